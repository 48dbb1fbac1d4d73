import { toError, type SyncResult, type SyncUser } from '../../channels/index.ts';
import type { RevTree } from '../../document/types.ts';
import type { DbContext } from '../context.ts';
import type { AttachmentMap } from '../doc-meta.ts';
import { revisionContent, type CurrentDoc, type RevisionContent } from './current.ts';

function stubs(attachments: AttachmentMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, meta] of Object.entries(attachments)) {
    Object.defineProperty(out, name, { value: { ...meta, stub: true }, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A revision as the sync function sees it: the body with `_id`, `_rev`, `_deleted` and attachment stubs. */
export function syncDoc(id: string, rev: string, content: RevisionContent): Record<string, unknown> {
  const doc: Record<string, unknown> = { ...content.body, _id: id, _rev: rev };
  if (content.deleted) doc._deleted = true;
  if (Object.keys(content.attachments).length > 0) doc._attachments = stubs(content.attachments);
  return doc;
}

/**
 * `oldDoc` for a new revision, as Sync Gateway passes it: its nearest ancestor whose body the document still has
 * (for an ordinary update, the revision it replaces; a deleted parent comes as `{_id, _rev, _deleted: true}`),
 * or null for a new document or a branch with no kept ancestor.
 */
export function ancestorDoc(current: CurrentDoc, tree: RevTree, rev: string): Record<string, unknown> | null {
  if (!current.meta) return null;
  const seen = new Set<string>();
  for (let r = tree[rev]?.parent ?? null; r !== null && !seen.has(r); r = tree[r]?.parent ?? null) {
    seen.add(r);
    const content = revisionContent(current, r);
    if (content) return syncDoc(current.id, r, content);
  }
  return null;
}

/**
 * Runs the database's sync function for one revision. A rejection (`throw({forbidden})`, a failed require*
 * call, an exception or a time-out) is thrown as the client-facing error.
 */
export function runSync(
  ctx: DbContext,
  doc: Record<string, unknown>,
  oldDoc: Record<string, unknown> | null,
  user: SyncUser | null,
): SyncResult {
  const started = process.hrtime.bigint();
  const result = ctx.syncFunction.run(doc, oldDoc, {}, user);
  ctx.stats.syncFunctionRan(started, result.rejection?.status);
  if (result.warnings.length > 0) ctx.log.debug({ id: doc._id, rev: doc._rev, warnings: result.warnings }, 'sync function warnings');
  const rejection = result.rejection;
  if (rejection) {
    if (rejection.status >= 500) ctx.log.warn({ id: doc._id, rev: doc._rev, reason: rejection.reason }, 'sync function failed');
    else ctx.log.debug({ id: doc._id, rev: doc._rev, status: rejection.status, reason: rejection.reason }, 'sync function rejected the revision');
    throw toError(rejection);
  }
  return result;
}

/** Runs the sync function for a revision of `current` whose tree (with that revision) is `tree`. */
export function syncRevision(
  ctx: DbContext,
  current: CurrentDoc,
  tree: RevTree,
  rev: string,
  content: RevisionContent,
  user: SyncUser | null,
): SyncResult {
  // The default function reads nothing but doc.channels: no need to look for the ancestor.
  const oldDoc = ctx.syncFunction.isNative ? null : ancestorDoc(current, tree, rev);
  return runSync(ctx, syncDoc(current.id, rev, content), oldDoc, user);
}
