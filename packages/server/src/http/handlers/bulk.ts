import { encodeRevisionsMixed } from '@syncline/protocol';
import { badRequest } from '../../base/errors.ts';
import { allDocs, type AllDocsOptions } from '../../db/all-docs.ts';
import { bulkGet, type BulkGetRequest } from '../../db/bulk-get.ts';
import { isPlainObject, splitIncoming, type IncomingDoc } from '../../db/crud/incoming.ts';
import { writeDocuments } from '../../db/crud/write.ts';
import { revsDiff } from '../../db/revs-diff.ts';
import { isSynclineError } from '../../base/errors.ts';
import { isValidRevId } from '../../document/index.ts';
import { readJson } from '../body.ts';
import type { Handler } from '../route-types.ts';
import { accepts } from './negotiate.ts';

export const bulkDocs: Handler = async ({ db, req, user }) => {
  const body = await readJson(req);
  if (!isPlainObject(body) || !Array.isArray(body.docs)) throw badRequest('Request body must be {"docs": [...]}');
  const newEdits = body.new_edits === undefined ? true : body.new_edits;
  if (typeof newEdits !== 'boolean') throw badRequest('new_edits must be a boolean');
  const parsed: Array<IncomingDoc | { id: string; error: string; reason: string; status: number }> = body.docs.map((raw: unknown) => {
    try {
      const input = isPlainObject(raw) && raw._id === undefined && newEdits ? { ...raw, _id: crypto.randomUUID().replaceAll('-', '') } : raw;
      return splitIncoming(input);
    } catch (err) {
      if (!isSynclineError(err)) throw err;
      const id = isPlainObject(raw) && typeof raw._id === 'string' ? raw._id : '';
      return { id, error: err.error, reason: err.reason, status: err.status };
    }
  });
  const valid = parsed.filter((p): p is IncomingDoc => 'body' in p);
  const written = await writeDocuments(db, valid, { newEdits, user });
  let next = 0;
  const results = parsed.map((p) => {
    if (!('body' in p)) return p;
    const r = written[next++]!;
    return 'error' in r ? { id: r.id, error: r.error.error, reason: r.error.reason, status: r.error.status } : { id: r.id, rev: r.rev };
  });
  return { status: 201, json: results };
};

function parseBulkGet(body: unknown): BulkGetRequest[] {
  if (!isPlainObject(body) || !Array.isArray(body.docs)) throw badRequest('Request body must be {"docs": [...]}');
  return body.docs.map((entry: unknown) => {
    if (!isPlainObject(entry) || typeof entry.id !== 'string' || entry.id.length === 0) throw badRequest('Each _bulk_get entry needs an "id"');
    if (entry.rev !== undefined && (typeof entry.rev !== 'string' || !isValidRevId(entry.rev))) throw badRequest(`Invalid rev in _bulk_get entry "${entry.id}"`);
    const attsSince = entry.atts_since;
    if (attsSince !== undefined && (!Array.isArray(attsSince) || !attsSince.every((r) => typeof r === 'string'))) throw badRequest('atts_since must be an array');
    return { id: entry.id, ...(entry.rev !== undefined ? { rev: entry.rev as string } : {}), ...(attsSince ? { attsSince: attsSince as string[] } : {}) };
  });
}

export const bulkGetDocs: Handler = async ({ db, req, query, user }) => {
  const requests = parseBulkGet(await readJson(req));
  const multipart = accepts(req, 'multipart/mixed') && !accepts(req, 'application/json', true);
  const attachments = query.bool('attachments');
  const results = await bulkGet(db, requests, { revs: query.bool('revs'), attachments, follows: multipart && attachments }, user);
  if (!multipart) {
    return { status: 200, json: { results: results.map((r) => ({ id: r.id, docs: r.docs.map((d) => ('ok' in d ? { ok: d.ok.doc } : d)) })) } };
  }
  const entries = results.flatMap((r) => r.docs.map((d) => ('ok' in d ? { doc: d.ok.doc, attachments: d.ok.parts } : { doc: { _id: d.error.id, _rev: d.error.rev, error: d.error.error, reason: d.error.reason } })));
  const encoded = encodeRevisionsMixed(entries);
  return { status: 200, body: encoded.body, headers: { 'Content-Type': encoded.contentType } };
};

function keysFrom(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((k) => typeof k === 'string')) throw badRequest('keys must be an array of strings');
  return value as string[];
}

export const allDocsHandler: Handler = async ({ db, query, req, user }) => {
  let keys: string[] | undefined;
  if (req.method === 'POST') {
    const body = await readJson(req);
    if (!isPlainObject(body)) throw badRequest('Request body must be a JSON object');
    if (body.keys !== undefined) keys = keysFrom(body.keys);
  } else if (query.has('keys')) {
    keys = keysFrom(query.json('keys'));
  }
  const opts: AllDocsOptions = {
    includeDocs: query.bool('include_docs'),
    conflicts: query.bool('conflicts'),
    descending: query.bool('descending'),
    inclusiveEnd: query.bool('inclusive_end', true),
  };
  const start = query.key('startkey', 'start_key');
  const end = query.key('endkey', 'end_key');
  const limit = query.int('limit', { min: 0 });
  const skip = query.int('skip', { min: 0 });
  if (keys) opts.keys = keys;
  if (start !== undefined) opts.startKey = start;
  if (end !== undefined) opts.endKey = end;
  if (limit !== undefined) opts.limit = limit;
  if (skip !== undefined) opts.skip = skip;
  return { status: 200, json: await allDocs(db, opts, user) };
};

export const revsDiffHandler: Handler = async ({ db, req, user }) => {
  const body = await readJson(req);
  if (!isPlainObject(body)) throw badRequest('Request body must be a JSON object');
  for (const [id, revs] of Object.entries(body)) {
    if (!Array.isArray(revs) || !revs.every((r) => typeof r === 'string' && isValidRevId(r))) throw badRequest(`Revisions for "${id}" must be an array of revision IDs`);
  }
  return { status: 200, json: await revsDiff(db, body as Record<string, string[]>, user) };
};
