import type Database from 'better-sqlite3';
import type { Cas, CommitResult, DocumentCommit } from '../bucket.ts';
import { q, type CollectionTables } from './schema.ts';

type Db = Database.Database;

interface CasState {
  bodyCas: Cas | null;
  metaCas: Cas | null;
}

const CAS_MISMATCH: CommitResult = { ok: false, reason: 'cas_mismatch' };

/** The write path of a collection: commit (body + metadata + changes log) and purge, with statements prepared once. */
export class SqliteCommitter {
  readonly #state;
  readonly #allocate;
  readonly #insertBody;
  readonly #updateBody;
  readonly #deleteBody;
  readonly #insertMeta;
  readonly #updateMeta;
  readonly #deleteMeta;
  readonly #deleteChannelsOfDoc;
  readonly #deleteChangesOfDoc;
  readonly #insertChange;
  readonly #insertChannel;
  readonly #commitTx;
  readonly #commitManyTx;
  readonly #purgeTx;

  constructor(db: Db, t: CollectionTables) {
    const [docs, meta, changes, channels] = [q(t.documents), q(t.meta), q(t.changes), q(t.changeChannels)];
    this.#state = db.prepare<[string, string], CasState>(
      `SELECT (SELECT cas FROM ${docs} WHERE id = ?) AS bodyCas, (SELECT cas FROM ${meta} WHERE id = ?) AS metaCas`,
    );
    this.#allocate = db.prepare<[], { seq: number; cas: Cas }>(
      'UPDATE counters SET seq = seq + 1, cas = cas + 1 RETURNING seq, cas',
    );
    this.#insertBody = db.prepare<[string, string]>(`INSERT INTO ${docs} (id, body) VALUES (?, ?)`);
    this.#updateBody = db.prepare<[string, string]>(`UPDATE ${docs} SET body = ? WHERE id = ?`);
    this.#deleteBody = db.prepare<[string]>(`DELETE FROM ${docs} WHERE id = ?`);
    this.#insertMeta = db.prepare<[string, string, Cas, number, number]>(
      `INSERT INTO ${meta} (id, meta, cas, seq, deleted) VALUES (?, ?, ?, ?, ?)`,
    );
    this.#updateMeta = db.prepare<[string, Cas, number, number, string]>(
      `UPDATE ${meta} SET meta = ?, cas = ?, seq = ?, deleted = ? WHERE id = ?`,
    );
    this.#deleteMeta = db.prepare<[string]>(`DELETE FROM ${meta} WHERE id = ?`);
    // Channel rows are keyed (channel, seq): find them through the JSON lists of the doc's changes rows.
    this.#deleteChannelsOfDoc = db.prepare<[string, string]>(
      `DELETE FROM ${channels} WHERE (channel, seq) IN (
         SELECT j.value, c.seq FROM ${changes} c, json_each(c.channels) j WHERE c.doc_id = ?
         UNION ALL
         SELECT j.value, c.seq FROM ${changes} c, json_each(c.removed) j WHERE c.doc_id = ?)`,
    );
    this.#deleteChangesOfDoc = db.prepare<[string]>(`DELETE FROM ${changes} WHERE doc_id = ?`);
    this.#insertChange = db.prepare<[number, string, string, number, string, string]>(
      `INSERT INTO ${changes} (seq, doc_id, rev, deleted, channels, removed) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#insertChannel = db.prepare<[string, number]>(
      `INSERT OR IGNORE INTO ${channels} (channel, seq) VALUES (?, ?)`,
    );
    this.#commitTx = db.transaction((write: DocumentCommit) => this.#commitOne(write));
    this.#commitManyTx = db.transaction((writes: readonly DocumentCommit[]) => writes.map((w) => this.#commitOne(w)));
    this.#purgeTx = db.transaction((id: string) => this.#purgeOne(id));
  }

  commit(write: DocumentCommit): CommitResult {
    return this.#commitTx.immediate(write);
  }

  /** Several commits in one transaction; each is checked on its own. A throwing build() aborts them all. */
  commitMany(writes: readonly DocumentCommit[]): CommitResult[] {
    return writes.length === 0 ? [] : this.#commitManyTx.immediate(writes);
  }

  purge(id: string): boolean {
    return this.#purgeTx.immediate(id);
  }

  #commitOne(write: DocumentCommit): CommitResult {
    const { id } = write;
    const state = this.#state.get(id, id);
    if (!state || state.bodyCas !== write.expectedBodyCas || state.metaCas !== write.expectedMetaCas) {
      return CAS_MISMATCH;
    }
    let bodyCas = state.bodyCas;
    const writesBody = typeof write.body === 'string';
    if (typeof write.body === 'string') {
      if (bodyCas === null) this.#insertBody.run(id, write.body);
      else this.#updateBody.run(write.body, id);
    } else if (write.body === null && bodyCas !== null) {
      this.#deleteBody.run(id);
      bodyCas = null;
    }
    const next = this.#allocate.get();
    if (!next) throw new Error('counters row is missing');
    const { seq, cas: metaCas } = next;
    // The body trigger bumped the counter exactly once just before our own bump, under the write lock.
    if (writesBody) bodyCas = metaCas - 1;

    const payload = write.build(seq);
    const deleted = payload.deleted ? 1 : 0;
    if (state.metaCas === null) {
      this.#insertMeta.run(id, payload.meta, metaCas, seq, deleted);
    } else {
      this.#updateMeta.run(payload.meta, metaCas, seq, deleted, id);
      this.#deleteChannelsOfDoc.run(id, id);
      this.#deleteChangesOfDoc.run(id);
    }
    const { rev, channels, removed } = payload.change;
    this.#insertChange.run(
      seq,
      id,
      rev,
      payload.change.deleted ? 1 : 0,
      JSON.stringify(channels),
      JSON.stringify(removed),
    );
    for (const channel of channels) this.#insertChannel.run(channel, seq);
    for (const channel of removed) this.#insertChannel.run(channel, seq);
    return { ok: true, seq, bodyCas, metaCas };
  }

  #purgeOne(id: string): boolean {
    this.#deleteChannelsOfDoc.run(id, id);
    const changes = this.#deleteChangesOfDoc.run(id).changes;
    const meta = this.#deleteMeta.run(id).changes;
    const body = this.#deleteBody.run(id).changes;
    return changes + meta + body > 0;
  }
}
