import { randomUUID } from 'node:crypto';
import { decodeDocumentMultipart, encodeDocumentRelated, encodeRevisionsMixed, MultipartError } from '@syncline/protocol';
import { badContentType, badRequest, conflict } from '../../base/errors.ts';
import { isValidRevId } from '../../document/index.ts';
import { splitIncoming, validateDocId } from '../../db/crud/incoming.ts';
import { loadCurrent, openRevs, requireRevision, formatRevision, type ReadOptions } from '../../db/crud/read.ts';
import { writeDocument } from '../../db/crud/write.ts';
import { checkJsonDepth, mediaType, parseJson, readBody, readJson } from '../body.ts';
import type { Query } from '../query.ts';
import type { Handler, RequestContext } from '../route-types.ts';
import { accepts, revFromRequest } from './negotiate.ts';
import { canReadRevision, requireReadable } from '../../db/access/doc-access.ts';

function readOptions(query: Query): ReadOptions {
  const attsSince = query.json('atts_since');
  if (attsSince !== undefined && (!Array.isArray(attsSince) || !attsSince.every((r) => typeof r === 'string'))) {
    throw badRequest('atts_since must be a JSON array of revisions');
  }
  return {
    revs: query.bool('revs'),
    revsInfo: query.bool('revs_info'),
    conflicts: query.bool('conflicts'),
    deletedConflicts: query.bool('deleted_conflicts'),
    attachments: query.bool('attachments'),
    ...(attsSince ? { attsSince: attsSince as string[] } : {}),
  };
}

function parseOpenRevs(query: Query): 'all' | string[] | undefined {
  const raw = query.string('open_revs');
  if (raw === undefined) return undefined;
  if (raw === 'all') return 'all';
  const list = query.json('open_revs');
  if (!Array.isArray(list) || !list.every((r) => typeof r === 'string' && isValidRevId(r))) {
    throw badRequest('open_revs must be "all" or a JSON array of revisions');
  }
  return list as string[];
}

const partsOf = (parts: Array<{ name: string; contentType: string; data: Buffer }>) =>
  parts.map((p) => ({ name: p.name, contentType: p.contentType, data: p.data }));

export const getDocument: Handler = async ({ db, params, query, req, user }) => {
  const id = validateDocId(params.doc);
  const opts = readOptions(query);
  const current = await loadCurrent(db, id);
  const open = parseOpenRevs(query);
  if (open !== undefined) {
    const multipart = accepts(req, 'multipart/mixed');
    const results = (await openRevs(db, current, open, { ...opts, follows: multipart && opts.attachments === true })).map((r) =>
      'ok' in r && current.meta && !canReadRevision(user, current.meta, r.ok.doc._rev as string)
        ? { ok: { doc: { _id: id, _rev: r.ok.doc._rev, _removed: true }, parts: [] } }
        : r,
    );
    if (!multipart) return { status: 200, json: results.map((r) => ('ok' in r ? { ok: r.ok.doc } : r)) };
    const encoded = encodeRevisionsMixed(results.map((r) => ('ok' in r ? { doc: r.ok.doc, attachments: partsOf(r.ok.parts) } : r)));
    return { status: 200, body: encoded.body, headers: { 'Content-Type': encoded.contentType } };
  }
  const rev = query.string('rev');
  if (rev !== undefined && !isValidRevId(rev)) throw badRequest(`Invalid rev: ${rev}`);
  const found = requireRevision(current, rev);
  requireReadable(user, current.meta!, found.rev);
  const related = opts.attachments === true && accepts(req, 'multipart/related') && !accepts(req, 'application/json', true);
  const { doc, parts } = await formatRevision(db, current, found.rev, found.content, { ...opts, follows: related });
  const etag = { ETag: `"${found.rev}"` };
  if (related && parts.length > 0) {
    const encoded = encodeDocumentRelated(doc, partsOf(parts));
    return { status: 200, body: encoded.body, headers: { 'Content-Type': encoded.contentType, ...etag } };
  }
  return { status: 200, json: doc, headers: etag };
};

async function readDocumentBody(ctx: RequestContext): Promise<{ raw: unknown; follows?: Map<string, Buffer> }> {
  const type = mediaType(ctx.req);
  if (type === 'multipart/related') {
    const body = await readBody(ctx.req);
    try {
      const decoded = decodeDocumentMultipart(body, ctx.req.headers['content-type']!);
      return { raw: checkJsonDepth(decoded.doc), follows: decoded.attachments };
    } catch (err) {
      if (err instanceof MultipartError) throw badRequest(`Invalid multipart body: ${err.message}`);
      throw err;
    }
  }
  if (type !== '' && type !== 'application/json') throw badContentType('Content-Type must be application/json or multipart/related');
  return { raw: parseJson(await readBody(ctx.req)) };
}

export const putDocument: Handler = async (ctx) => {
  const { db, params, query } = ctx;
  const id = validateDocId(params.doc);
  const { raw, follows } = await readDocumentBody(ctx);
  const incoming = splitIncoming(raw, id);
  const newEdits = query.bool('new_edits', true);
  const rev = revFromRequest(ctx);
  const result = await writeDocument(db, incoming, { newEdits, user: ctx.user, ...(rev ? { rev } : {}), ...(follows ? { follows } : {}) });
  return { status: 201, json: { ok: true, id: result.id, rev: result.rev }, headers: { ETag: `"${result.rev}"` } };
};

export const postDocument: Handler = async ({ db, req, user }) => {
  const raw = await readJson(req);
  const withId = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && !('_id' in raw) ? { ...raw, _id: randomUUID().replaceAll('-', '') } : raw;
  const incoming = splitIncoming(withId);
  const result = await writeDocument(db, incoming, { newEdits: true, user });
  return { status: 201, json: { ok: true, id: result.id, rev: result.rev }, headers: { ETag: `"${result.rev}"` } };
};

export const deleteDocument: Handler = async (ctx) => {
  const id = validateDocId(ctx.params.doc);
  const rev = revFromRequest(ctx);
  if (rev === undefined) throw conflict('Document update conflict: a rev is required to delete');
  const result = await writeDocument(ctx.db, { id, body: {}, deleted: true, rev, revisions: undefined, attachments: undefined }, { newEdits: true, user: ctx.user });
  return { status: 200, json: { ok: true, id: result.id, rev: result.rev }, headers: { ETag: `"${result.rev}"` } };
};
