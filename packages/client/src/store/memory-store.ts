import { createHash, randomUUID } from 'node:crypto';
import { blobDigest } from '../blobs.ts';
import type { ChangeListener, JsonObject, LocalChange, LocalDocument, LocalStore, RevisionToInsert } from './local-store.ts';
import { ancestors, generationOf, graft, leaves, winner, type RevTree } from './rev-tree.ts';

interface StoredDoc {
  tree: RevTree;
  current: string;
  sequence: number;
  remoteRevId: string | undefined;
}

/** An in-memory LocalStore, for tests and short-lived replicas. */
export class MemoryStore implements LocalStore {
  readonly uuid: string;
  readonly #docs = new Map<string, StoredDoc>();
  readonly #blobs = new Map<string, Uint8Array>();
  readonly #records = new Map<string, JsonObject>();
  readonly #listeners = new Set<ChangeListener>();
  #lastSequence = 0;

  constructor(uuid: string = randomUUID()) {
    this.uuid = uuid;
  }

  get lastSequence(): number {
    return this.#lastSequence;
  }

  /** Document IDs currently stored (including tombstones). */
  get docIds(): string[] {
    return [...this.#docs.keys()];
  }

  /** Writes a new local revision as a child of the current one; returns its revision ID. */
  async put(docId: string, body: JsonObject, options: { deleted?: boolean } = {}): Promise<string> {
    const doc = this.#docs.get(docId);
    const parent = doc?.current;
    const deleted = options.deleted ?? false;
    const generation = parent === undefined ? 1 : generationOf(parent) + 1;
    const digest = createHash('md5').update(JSON.stringify([parent ?? '', deleted, body])).digest('hex');
    const revId = `${generation}-${digest}`;
    const history = parent === undefined || doc === undefined ? [] : [parent, ...ancestors(doc.tree, parent)];
    this.#write(docId, { docId, revId, history, body: structuredClone(body), deleted }, false);
    return revId;
  }

  async delete(docId: string): Promise<string> {
    return this.put(docId, {}, { deleted: true });
  }

  async getDocument(docId: string): Promise<LocalDocument | undefined> {
    const doc = this.#docs.get(docId);
    if (!doc) return undefined;
    const node = doc.tree.get(doc.current)!;
    return {
      docId,
      revId: doc.current,
      history: ancestors(doc.tree, doc.current),
      body: structuredClone(node.body ?? {}),
      deleted: node.deleted,
      sequence: doc.sequence,
      remoteRevId: doc.remoteRevId,
    };
  }

  async getRevision(docId: string, revId: string): Promise<{ body: JsonObject; deleted: boolean; history: string[] } | undefined> {
    const doc = this.#docs.get(docId);
    const node = doc?.tree.get(revId);
    if (!doc || !node?.body) return undefined;
    return { body: structuredClone(node.body), deleted: node.deleted, history: ancestors(doc.tree, revId) };
  }

  async hasRevision(docId: string, revId: string): Promise<boolean> {
    return this.#docs.get(docId)?.tree.has(revId) ?? false;
  }

  async possibleAncestors(docId: string, revId: string, max: number): Promise<string[]> {
    const doc = this.#docs.get(docId);
    if (!doc) return [];
    const generation = generationOf(revId);
    return leaves(doc.tree)
      .filter((id) => generationOf(id) < generation)
      .sort((a, b) => generationOf(b) - generationOf(a))
      .slice(0, max);
  }

  async insertRevision(rev: RevisionToInsert): Promise<void> {
    this.#write(rev.docId, rev, true);
  }

  async setRemoteRevision(docId: string, revId: string): Promise<void> {
    const doc = this.#docs.get(docId);
    if (doc) doc.remoteRevId = revId;
  }

  async purge(docId: string): Promise<void> {
    this.#docs.delete(docId);
  }

  async resolveConflict(docId: string, winningRevId: string, losingRevId: string, merged?: { body: JsonObject; deleted: boolean }): Promise<string> {
    const doc = this.#docs.get(docId);
    if (!doc?.tree.has(winningRevId) || !doc.tree.has(losingRevId)) throw new Error(`no conflict between ${winningRevId} and ${losingRevId} in ${docId}`);
    const keep = new Set<string>();
    for (const leaf of leaves(doc.tree)) {
      if (leaf === losingRevId) continue;
      keep.add(leaf);
      for (const id of ancestors(doc.tree, leaf)) keep.add(id);
    }
    for (const id of [losingRevId, ...ancestors(doc.tree, losingRevId)]) if (!keep.has(id)) doc.tree.delete(id);
    let revId = winningRevId;
    if (merged) {
      revId = `${generationOf(winningRevId) + 1}-${createHash('md5').update(JSON.stringify([winningRevId, merged.deleted, merged.body])).digest('hex')}`;
      graft(doc.tree, revId, [winningRevId, ...ancestors(doc.tree, winningRevId)], merged.deleted, structuredClone(merged.body));
    }
    doc.current = winner(doc.tree)!;
    doc.sequence = ++this.#lastSequence;
    const change: LocalChange = { sequence: doc.sequence, docId, revId: doc.current, deleted: doc.tree.get(doc.current)!.deleted };
    for (const listener of this.#listeners) listener(change);
    return doc.current;
  }

  async changesSince(since: number, limit: number): Promise<LocalChange[]> {
    const out: LocalChange[] = [];
    for (const [docId, doc] of this.#docs) {
      if (doc.sequence > since) out.push({ sequence: doc.sequence, docId, revId: doc.current, deleted: doc.tree.get(doc.current)!.deleted });
    }
    return out.sort((a, b) => a.sequence - b.sequence).slice(0, limit);
  }

  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async getBlob(digest: string): Promise<Uint8Array | undefined> {
    return this.#blobs.get(digest);
  }

  async putBlob(data: Uint8Array): Promise<string> {
    const digest = blobDigest(data);
    this.#blobs.set(digest, Uint8Array.from(data));
    return digest;
  }

  async getLocalRecord(id: string): Promise<JsonObject | undefined> {
    const value = this.#records.get(id);
    return value === undefined ? undefined : structuredClone(value);
  }

  async setLocalRecord(id: string, value: JsonObject): Promise<void> {
    this.#records.set(id, structuredClone(value));
  }

  #write(docId: string, rev: RevisionToInsert, fromRemote: boolean): void {
    let doc = this.#docs.get(docId);
    const tree: RevTree = doc?.tree ?? new Map();
    if (!graft(tree, rev.revId, rev.history, rev.deleted, rev.body)) {
      if (fromRemote && doc) doc.remoteRevId = rev.revId;
      return;
    }
    const current = winner(tree)!;
    const sequence = ++this.#lastSequence;
    if (!doc) {
      doc = { tree, current, sequence, remoteRevId: undefined };
      this.#docs.set(docId, doc);
    }
    doc.current = current;
    doc.sequence = sequence;
    if (fromRemote) doc.remoteRevId = rev.revId;
    const change: LocalChange = { sequence, docId, revId: current, deleted: tree.get(current)!.deleted };
    for (const listener of this.#listeners) listener(change);
  }
}
