import { addMissingLegacyAttachments } from '@syncline/protocol';
import type { ChangeListener, JsonObject, LocalChange, LocalDocument, LocalStore, RevisionToInsert } from '@syncline/client';
import { ancestry, generationOf, isLeaf, isValidRevId, leaves } from '../../document/index.ts';
import { attachmentDigest } from '../../db/attachments/digest.ts';
import { readChangesBatch } from '../../db/changes.ts';
import type { DbContext } from '../../db/context.ts';
import { revisionContent, type CurrentDoc, type RevisionContent } from '../../db/crud/current.ts';
import { isPlainObject, splitIncoming, type IncomingDoc } from '../../db/crud/incoming.ts';
import { loadCurrent } from '../../db/crud/read.ts';
import { writeDocument } from '../../db/crud/write.ts';
import type { AttachmentMap } from '../../db/doc-meta.ts';
import { plain } from '../../db/feed-position.ts';
import { purge } from '../../db/purge.ts';
import { checkpointPrefix, remoteRevPrefix } from './records.ts';

export interface DatabaseStoreOptions {
  /** The database's replication uuid (see records.ts UUID_KEY); the store's uuid adds the replication id. */
  databaseUuid: string;
  replicationId: string;
  /** Push only documents in these channels (filter sync_gateway/bychannel). */
  channels?: readonly string[] | undefined;
  /** Purge documents the remote revokes or removes from the replicated channels (else they are left alone). */
  purgeOnRemoval: boolean;
}

/** How often a continuous push looks at the database's latest sequence when no write was announced. */
const CHANGE_POLL_MS = 5_000;
/** Remote revisions kept in memory (the records hold them all). */
const REMOTE_CACHE_MAX = 50_000;

/** `_attachments` as the replicator carries them: stubs with their digests (bytes go through getBlob/putBlob). */
function attachmentStubs(atts: AttachmentMap): JsonObject {
  const out: JsonObject = {};
  for (const [name, meta] of Object.entries(atts)) out[name] = { ...meta, stub: true };
  return out;
}

function bodyOf(content: RevisionContent | null): JsonObject {
  if (!content) return {};
  const body: JsonObject = { ...content.body };
  delete body._id;
  delete body._rev;
  delete body._deleted;
  if (Object.keys(content.attachments).length > 0) body._attachments = attachmentStubs(content.attachments);
  return body;
}

/** A body from the replicator as a write: user properties, plus `_attachments`; other `_` members are dropped. */
function toIncoming(docId: string, body: JsonObject, deleted: boolean, rev: string | undefined): IncomingDoc {
  const clean: JsonObject = {};
  for (const [key, value] of Object.entries(body)) if (!key.startsWith('_')) clean[key] = value;
  const atts = body._attachments;
  return { id: docId, body: clean, deleted, rev, revisions: undefined, attachments: isPlainObject(atts) && Object.keys(atts).length > 0 ? atts : undefined };
}

/** `{start, ids}` from a revision and its ancestors, cut where the generations stop being consecutive. */
function revisionsOf(revId: string, history: readonly string[]): { start: number; ids: string[] } {
  const start = generationOf(revId);
  const ids: string[] = [];
  for (const [i, r] of [revId, ...history].entries()) {
    if (!isValidRevId(r) || generationOf(r) !== start - i) break;
    ids.push(r.slice(r.indexOf('-') + 1));
  }
  return { start, ids };
}

/**
 * The server database as the client Replicator's LocalStore, for server-to-server replication. Reads go
 * through the CRUD read path (importing direct writes on demand); pulled revisions are written with their
 * history as the admin (new_edits=false, the sync function runs), conflicts are resolved with ordinary new
 * edits (a merged revision on the winning branch, a tombstone on the losing one). The revision known to be on
 * the remote is kept per replication and document in bucket records; checkpoints are bucket records too.
 */
export class DatabaseStore implements LocalStore {
  readonly uuid: string;
  readonly #db: DbContext & { readonly closed: boolean };
  readonly #opts: DatabaseStoreOptions;
  readonly #remoteRevs = new Map<string, string>();
  readonly #listeners = new Set<ChangeListener>();
  #watching: AbortController | undefined;

  constructor(db: DbContext & { readonly closed: boolean }, opts: DatabaseStoreOptions) {
    this.#db = db;
    this.#opts = opts;
    this.uuid = `${opts.databaseUuid}/${opts.replicationId}`;
  }

  async #current(docId: string): Promise<CurrentDoc> {
    return loadCurrent(this.#db, docId);
  }

  async getDocument(docId: string): Promise<LocalDocument | undefined> {
    const current = await this.#current(docId);
    const meta = current.meta;
    if (!meta) return undefined;
    return {
      docId,
      revId: meta.rev,
      history: ancestry(meta.tree, meta.rev).slice(1),
      body: bodyOf(revisionContent(current, meta.rev)),
      deleted: meta.deleted,
      sequence: meta.seq,
      remoteRevId: await this.#remoteRev(docId),
    };
  }

  async getRevision(docId: string, revId: string): Promise<{ body: JsonObject; deleted: boolean; history: string[] } | undefined> {
    const current = await this.#current(docId);
    const meta = current.meta;
    const content = meta ? revisionContent(current, revId) : null;
    if (!meta || !content) return undefined;
    return { body: bodyOf(content), deleted: content.deleted, history: ancestry(meta.tree, revId).slice(1) };
  }

  async hasRevision(docId: string, revId: string): Promise<boolean> {
    const meta = (await this.#current(docId)).meta;
    return meta !== null && meta.tree[revId] !== undefined;
  }

  async possibleAncestors(docId: string, revId: string, max: number): Promise<string[]> {
    const meta = (await this.#current(docId)).meta;
    if (!meta || !isValidRevId(revId)) return [];
    const generation = generationOf(revId);
    return leaves(meta.tree)
      .filter((r) => generationOf(r) < generation)
      .sort((a, b) => generationOf(b) - generationOf(a))
      .slice(0, max);
  }

  async insertRevision(rev: RevisionToInsert): Promise<void> {
    const incoming = splitIncoming({ _id: rev.docId, _rev: rev.revId, _revisions: revisionsOf(rev.revId, rev.history), ...(rev.deleted ? { _deleted: true } : {}) });
    // Inline blobs get their `blob_/<path>` attachment, as a BLIP push to this server would store them.
    const { body, attachments } = toIncoming(rev.docId, addMissingLegacyAttachments(rev.body, generationOf(rev.revId)), rev.deleted, rev.revId);
    // Marked first: the push side must not send this revision back when the write wakes it.
    this.#cacheRemote(rev.docId, rev.revId);
    await writeDocument(this.#db, { ...incoming, body, attachments }, { newEdits: false, user: null });
    await this.#saveRemote(rev.docId, rev.revId);
  }

  async setRemoteRevision(docId: string, revId: string): Promise<void> {
    if (this.#remoteRevs.get(docId) === revId) return;
    this.#cacheRemote(docId, revId);
    await this.#saveRemote(docId, revId);
  }

  async purge(docId: string): Promise<void> {
    if (!this.#opts.purgeOnRemoval) return;
    await purge(this.#db, { [docId]: ['*'] });
    this.#remoteRevs.delete(docId);
    await this.#db.bucket.deleteRecord(this.#remoteKey(docId));
  }

  async resolveConflict(docId: string, winningRevId: string, losingRevId: string, merged?: { body: JsonObject; deleted: boolean }): Promise<string> {
    let result = winningRevId;
    // The merged revision first, while the losing branch (whose attachments it may keep) is still a leaf.
    if (merged) result = (await writeDocument(this.#db, toIncoming(docId, merged.body, merged.deleted, winningRevId), { newEdits: true, user: null })).rev;
    const meta = (await this.#current(docId)).meta;
    const losing = meta?.tree[losingRevId];
    if (meta && losing && !losing.deleted && isLeaf(meta.tree, losingRevId)) {
      await writeDocument(this.#db, toIncoming(docId, {}, true, losingRevId), { newEdits: true, user: null });
    }
    return result;
  }

  async changesSince(since: number, limit: number): Promise<LocalChange[]> {
    const channels = this.#opts.channels;
    let from = since;
    for (;;) {
      const batch = await readChangesBatch(this.#db, { since: plain(from), limit, ...(channels && channels.length > 0 ? { channels } : {}) }, null);
      const out: LocalChange[] = [];
      for (const entry of batch.results) {
        const sequence = typeof entry.seq === 'number' ? entry.seq : Number.parseInt(String(entry.seq), 10);
        if (Number.isFinite(sequence)) from = Math.max(from, sequence);
        // Design documents and removals from the filtered channels are not pushed, except deletions (a
        // tombstone usually has no channels left, so it shows as a removal).
        if ((entry.removed !== undefined && entry.deleted !== true) || entry.id.startsWith('_design/')) continue;
        out.push({ sequence, docId: entry.id, revId: entry.changes[0]!.rev, deleted: entry.deleted === true });
      }
      if (out.length > 0 || batch.results.length < limit) return out;
    }
  }

  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    if (!this.#watching) {
      const abort = new AbortController();
      this.#watching = abort;
      void this.#watch(abort.signal);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#watching?.abort();
        this.#watching = undefined;
      }
    };
  }

  async #watch(signal: AbortSignal): Promise<void> {
    const notifier = this.#db.notifier;
    let seen = notifier.latest;
    while (!signal.aborted && !this.#db.closed) {
      await notifier.waitFor(seen, CHANGE_POLL_MS, signal);
      const latest = notifier.latest;
      if (latest <= seen || signal.aborted) continue;
      seen = latest;
      for (const listener of [...this.#listeners]) listener({ sequence: latest, docId: '', revId: '', deleted: false });
    }
  }

  /** Stops watching for changes. */
  close(): void {
    this.#watching?.abort();
    this.#watching = undefined;
    this.#listeners.clear();
  }

  async getBlob(digest: string): Promise<Uint8Array | undefined> {
    return (await this.#db.bucket.getBlob(digest)) ?? undefined;
  }

  async putBlob(data: Uint8Array): Promise<string> {
    const digest = attachmentDigest(data);
    if (!(await this.#db.bucket.hasBlob(digest))) await this.#db.bucket.putBlob(digest, data);
    return digest;
  }

  async getLocalRecord(id: string): Promise<JsonObject | undefined> {
    const record = await this.#db.bucket.getRecord(`${checkpointPrefix(this.#opts.replicationId)}${id}`);
    return record ? (JSON.parse(record.value) as JsonObject) : undefined;
  }

  async setLocalRecord(id: string, value: JsonObject): Promise<void> {
    await this.#db.bucket.setRecord(`${checkpointPrefix(this.#opts.replicationId)}${id}`, JSON.stringify(value), { durable: false });
  }

  #remoteKey(docId: string): string {
    return `${remoteRevPrefix(this.#opts.replicationId)}${docId}`;
  }

  #cacheRemote(docId: string, revId: string): void {
    if (this.#remoteRevs.size >= REMOTE_CACHE_MAX && !this.#remoteRevs.has(docId)) this.#remoteRevs.clear();
    this.#remoteRevs.set(docId, revId);
  }

  async #saveRemote(docId: string, revId: string): Promise<void> {
    await this.#db.bucket.setRecord(this.#remoteKey(docId), revId, { durable: false });
  }

  async #remoteRev(docId: string): Promise<string | undefined> {
    const cached = this.#remoteRevs.get(docId);
    if (cached !== undefined) return cached;
    const record = await this.#db.bucket.getRecord(this.#remoteKey(docId));
    if (!record) return undefined;
    this.#cacheRemote(docId, record.value);
    return record.value;
  }
}
