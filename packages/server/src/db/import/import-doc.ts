import { isSynclineError } from '../../base/errors.ts';
import { addRevision, makeRevId, makeRevIdFromJson } from '../../document/index.ts';
import type { DocumentCommit, StoredDoc } from '../../storage/bucket.ts';
import { digestsForRevId } from '../attachments/resolve.ts';
import type { DbContext } from '../context.ts';
import { planCommit } from '../crud/apply.ts';
import type { CurrentDoc, RevisionContent } from '../crud/current.ts';
import { validateDocId } from '../crud/incoming.ts';
import { runSync, syncDoc, syncRevision } from '../crud/sync-run.ts';
import { parseMeta } from '../doc-meta.ts';

/**
 * Whether a document's body was written outside the gateway since the gateway last wrote it. Every gateway
 * commit stamps the metadata after the body (metadata cas above body cas), so a body stamped later, a body
 * without metadata, or live metadata whose row is gone can only come from someone else.
 */
export function needsImport(stored: StoredDoc | null): boolean {
  if (!stored) return false;
  if (stored.body !== null) return stored.metaCas === null || (stored.bodyCas ?? 0) > stored.metaCas;
  if (stored.meta === null) return false;
  return !parseMeta(stored.meta).deleted;
}

export type ImportDecision =
  /** Nothing to import: the gateway wrote the current state itself, or already imported it. */
  | { kind: 'none' }
  /** The import filter did not accept the document (an error in the filter counts as not accepted). */
  | { kind: 'filtered'; reason?: string }
  /** The body cannot become a revision (not JSON, not an object, too large, reserved properties) or the sync function refused it. */
  | { kind: 'failed'; reason: string }
  | { kind: 'commit'; rev: string; deleted: boolean; commit: DocumentCommit };

function parseAppBody(ctx: DbContext, id: string, text: string): Record<string, unknown> | string {
  try {
    validateDocId(id);
  } catch (err) {
    return isSynclineError(err) ? err.reason : String(err);
  }
  const size = text.length <= ctx.config.max_document_size / 3 ? text.length : Buffer.byteLength(text, 'utf8');
  if (size > ctx.config.max_document_size) return `body is ${size} bytes, more than max_document_size (${ctx.config.max_document_size})`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return `body is not valid JSON: ${(err as Error).message}`;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body is not a JSON object';
  const reserved = Object.keys(body).find((key) => key.startsWith('_'));
  if (reserved !== undefined) return `top-level property "${reserved}" is reserved (properties starting with "_" are not allowed)`;
  return body as Record<string, unknown>;
}

/**
 * Works out the revision that records a direct write: a child of the current winning revision (a tombstone
 * for a deleted row) whose body is exactly the row, run through the import filter and then the sync function
 * with admin rights and no `oldDoc`. The row itself is never rewritten.
 */
export function prepareImport(ctx: DbContext, current: CurrentDoc): ImportDecision {
  const stored = current.stored;
  if (!needsImport(stored) || !stored) return { kind: 'none' };
  const meta = current.meta;
  const parent = meta?.rev ?? null;
  let content: RevisionContent;
  let rev: string;
  if (stored.body === null) {
    content = { body: {}, attachments: {}, deleted: true };
    rev = makeRevId({ parent, deleted: true, body: {} });
  } else {
    const body = parseAppBody(ctx, current.id, stored.body);
    if (typeof body === 'string') return { kind: 'failed', reason: body };
    if (ctx.importFilter) {
      const verdict = ctx.importFilter.run({ ...body, _id: current.id });
      if (!verdict.accepted) return verdict.error ? { kind: 'filtered', reason: verdict.error } : { kind: 'filtered' };
    }
    // Attachments live in the metadata, so an app's update keeps those of the revision it replaces.
    const attachments = meta && !meta.deleted ? meta.attachments : {};
    content = { body, attachments, deleted: false, json: stored.body };
    const atts = digestsForRevId(attachments);
    rev = atts
      ? makeRevId({ parent, deleted: false, body: { ...body, _attachments: atts } })
      : makeRevIdFromJson({ parent, deleted: false, body }, stored.body);
  }
  const tree = addRevision(meta?.tree ?? {}, rev, parent, content.deleted);
  let result;
  try {
    result = runSync(ctx, syncDoc(current.id, rev, content), null, null);
  } catch (err) {
    if (!isSynclineError(err)) throw err;
    return { kind: 'failed', reason: `sync function: ${err.reason}` };
  }
  const sync = { result, forWinner: (w: string, c: RevisionContent) => syncRevision(ctx, current, tree, w, c, null) };
  const commit = planCommit(current, { rev, tree, content, inDocumentsTable: true }, ctx.config.revs_limit, sync);
  return { kind: 'commit', rev, deleted: content.deleted, commit };
}
