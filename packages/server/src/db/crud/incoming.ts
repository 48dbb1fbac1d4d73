import { badRequest, notFound } from '../../base/errors.ts';
import { isValidRevId } from '../../document/index.ts';
import type { Revisions } from '../../document/types.ts';

/** A document as a client sent it, split into its user body and CouchDB special members. */
export interface IncomingDoc {
  id: string;
  /** User properties only (no top-level `_` members). */
  body: Record<string, unknown>;
  deleted: boolean;
  rev: string | undefined;
  revisions: Revisions | undefined;
  /** Raw `_attachments` value, validated later. */
  attachments: Record<string, unknown> | undefined;
}

const IGNORED_SPECIALS = new Set(['_revs_info', '_conflicts', '_deleted_conflicts', '_local_seq', '_removed']);
const MAX_ID_BYTES = 250;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Document IDs: non-empty, at most 250 UTF-8 bytes, well-formed Unicode, no reserved `_` prefix. */
export function validateDocId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) throw badRequest('Document id must be a non-empty string');
  if (Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES) throw badRequest(`Document id is longer than ${MAX_ID_BYTES} bytes`);
  if (!id.isWellFormed()) throw badRequest('Document id is not valid Unicode');
  if (id.startsWith('_') && !id.startsWith('_design/')) throw badRequest(`Invalid document id "${id}": only _design/ may start with _`);
  if (id === '_design/') throw badRequest('Invalid document id "_design/": a design document needs a name');
  return id;
}

function parseRevisions(value: unknown): Revisions {
  if (!isPlainObject(value)) throw badRequest('_revisions must be an object');
  const { start, ids } = value;
  if (typeof start !== 'number' || !Number.isInteger(start) || start < 1) throw badRequest('_revisions.start must be a positive integer');
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > start) throw badRequest('_revisions.ids must be a non-empty array');
  for (const digest of ids) {
    if (typeof digest !== 'string' || !isValidRevId(`1-${digest}`)) throw badRequest('_revisions.ids contains an invalid id');
  }
  return { start, ids: ids as string[] };
}

/**
 * Splits a client document into body and special members. `pathId` is the id from the URL, when there is one:
 * a different `_id` in the body is an error.
 */
export function splitIncoming(raw: unknown, pathId?: string): IncomingDoc {
  if (!isPlainObject(raw)) throw badRequest('Document must be a JSON object');
  const body: Record<string, unknown> = {};
  let id = pathId;
  let deleted = false;
  let rev: string | undefined;
  let revisions: Revisions | undefined;
  let attachments: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (!key.startsWith('_')) {
      body[key] = value;
      continue;
    }
    switch (key) {
      case '_id':
        if (typeof value !== 'string') throw badRequest('_id must be a string');
        if (pathId !== undefined && value !== pathId) throw badRequest('Document id does not match the URL');
        id = value;
        break;
      case '_rev':
        if (typeof value !== 'string' || !isValidRevId(value)) throw badRequest(`Invalid rev: ${String(value)}`);
        rev = value;
        break;
      case '_deleted':
        if (typeof value !== 'boolean') throw badRequest('_deleted must be a boolean');
        deleted = value;
        break;
      case '_revisions':
        revisions = parseRevisions(value);
        break;
      case '_attachments':
        if (value === null) break;
        if (!isPlainObject(value)) throw badRequest('_attachments must be an object');
        attachments = value;
        break;
      default:
        if (!IGNORED_SPECIALS.has(key)) throw badRequest(`Bad special document member: ${key}`);
    }
  }
  if (id === undefined) throw badRequest('Document id is missing');
  validateDocId(id);
  if (rev !== undefined && revisions !== undefined && `${revisions.start}-${revisions.ids[0]}` !== rev) {
    throw badRequest('_rev does not match _revisions');
  }
  return { id, body, deleted, rev, revisions, attachments };
}

/** The revision history a replicated document carries, newest first. */
export function historyOf(doc: IncomingDoc): string[] {
  if (doc.revisions) return doc.revisions.ids.map((digest, i) => `${doc.revisions!.start - i}-${digest}`);
  if (doc.rev) return [doc.rev];
  throw badRequest('Missing _rev: new_edits=false requires each document to have a revision');
}

export function missing(reason = 'missing'): never {
  throw notFound(reason);
}
