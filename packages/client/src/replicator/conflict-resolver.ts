import type { JsonObject, LocalDocument, LocalStore, RevisionToInsert } from '../store/local-store.ts';
import { generationOf } from '../store/rev-tree.ts';

export type ConflictWinner = 'local' | 'remote' | 'merged';

/** A conflict handed to a custom resolver: the local current revision and the pulled one that does not descend from it. */
export interface Conflict {
  docId: string;
  local: LocalDocument;
  remote: RevisionToInsert;
}

/** What a resolver decides: keep the local or the remote revision, or a new revision with this content. */
export type ConflictResolution = 'local' | 'remote' | { body: JsonObject; deleted: boolean };

/** A custom conflict resolver (the default applies Couchbase Lite's rules, see defaultConflictWinner). */
export type ConflictResolver = (conflict: Conflict) => ConflictResolution | Promise<ConflictResolution>;

/**
 * Couchbase Lite's default conflict resolution: a deletion wins, else the revision with the longer history
 * (higher generation). Couchbase Lite breaks a tie by revision ID ("randomly but deterministically"); here a
 * tie goes to the remote revision, which is as deterministic and keeps the client on the server's version.
 */
export function defaultConflictWinner(local: { revId: string; deleted: boolean }, remote: { revId: string; deleted: boolean }): 'local' | 'remote' {
  if (remote.deleted) return 'remote';
  if (local.deleted) return 'local';
  return generationOf(local.revId) > generationOf(remote.revId) ? 'local' : 'remote';
}

/** True when a pulled revision does not descend from the document's current local revision. */
function conflicts(before: LocalDocument | undefined, rev: RevisionToInsert): before is LocalDocument {
  return before !== undefined && before.revId !== rev.revId && !rev.history.includes(before.revId);
}

/**
 * Inserts a pulled revision and, when it conflicts with the local current revision, resolves the conflict as
 * LiteCore's replicator does after a pull with the default resolver: if the remote wins, the local branch is
 * dropped; if the local wins, its content becomes a new revision on top of the remote one (so the next push
 * is not a conflict) and the local branch is dropped. Returns the winner when there was a conflict.
 */
export async function insertPulledRevision(store: LocalStore, rev: RevisionToInsert, resolver?: ConflictResolver): Promise<ConflictWinner | undefined> {
  const before = await store.getDocument(rev.docId);
  const remote = { docId: rev.docId, revId: rev.revId, history: rev.history, deleted: rev.deleted };
  // The store may keep `rev.body`: a resolver gets its own copy.
  const remoteBody = resolver ? structuredClone(rev.body) : rev.body;
  await store.insertRevision(rev);
  if (!conflicts(before, rev) || !(await store.hasRevision(rev.docId, before.revId))) return undefined;
  const resolution = resolver ? await resolver({ docId: rev.docId, local: before, remote: { ...remote, body: remoteBody } }) : defaultConflictWinner(before, rev);
  if (resolution === 'remote') {
    await store.resolveConflict(rev.docId, rev.revId, before.revId);
    return 'remote';
  }
  if (resolution === 'local') {
    await store.resolveConflict(rev.docId, rev.revId, before.revId, { body: before.body, deleted: before.deleted });
    return 'local';
  }
  await store.resolveConflict(rev.docId, rev.revId, before.revId, resolution);
  return 'merged';
}
