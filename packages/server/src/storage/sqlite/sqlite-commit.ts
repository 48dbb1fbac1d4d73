import type Database from 'better-sqlite3';
import type { Cas, CommitResult, DocumentCommit, GrantRecord, PurgeOptions } from '../bucket.ts';
import { CAS_MISMATCH, distinctIdSegments, type CasState } from '../commit-state.ts';
import { SqliteGrants } from './grants.ts';
import { q, type CollectionTables } from './schema.ts';

type Db = Database.Database;

interface Accepted {
  index: number;
  write: DocumentCommit;
  state: CasState;
  /** 1-based rank of this commit's body write within its segment, or null when the body was not written. */
  bodyStamp: number | null;
}

const listJson = (list: readonly string[]): string => (list.length === 0 ? '[]' : JSON.stringify(list));

/** Position in the batch, documents-row cas, metadata cas, metadata seq, metadata deleted flag. */
type StateRow = [number, Cas | null, Cas | null, number | null, number | null];

/** The write path of a collection: commit (body + metadata + changes log) and purge, with statements prepared once. */
export class SqliteCommitter {
  readonly #collection: string;
  readonly #grants: SqliteGrants;
  readonly #readStates: Database.Statement<[string], StateRow>;
  readonly #readCounters;
  readonly #writeCounters;
  readonly #bodyCas;
  readonly #insertBody;
  readonly #updateBody;
  readonly #deleteBody;
  readonly #insertMeta;
  readonly #updateMeta;
  readonly #deleteMeta;
  readonly #deleteChannelsOfSeq;
  readonly #deleteChangeAt;
  readonly #metaState;
  readonly #addLive;
  readonly #insertChange;
  readonly #insertChannel;
  readonly #commitTx;
  readonly #purgeTx;

  constructor(db: Db, collection: string, t: CollectionTables) {
    const [docs, meta, changes, channels] = [q(t.documents), q(t.meta), q(t.changes), q(t.changeChannels)];
    this.#collection = collection;
    this.#grants = new SqliteGrants(db, t);
    this.#readCounters = db.prepare<[], { seq: number; cas: Cas }>('SELECT seq, cas FROM counters');
    this.#writeCounters = db.prepare<[Cas, number]>('UPDATE counters SET cas = ?, seq = ?');
    // One JSON array of ids, as in SqliteCollection.getMany.
    this.#readStates = db
      .prepare<[string], StateRow>(
        `SELECT k.key, (SELECT cas FROM ${docs} WHERE id = k.value), m.cas, m.seq, m.deleted
         FROM json_each(?) k LEFT JOIN ${meta} m ON m.id = k.value`,
      )
      .raw();
    this.#bodyCas = db.prepare<[string], Cas>(`SELECT cas FROM ${docs} WHERE id = ?`).pluck();
    // The cas given is the one the trigger stamps when nothing else moves the counter (see triggers.ts).
    this.#insertBody = db.prepare<[string, string, Cas]>(`INSERT INTO ${docs} (id, body, cas) VALUES (?, ?, ?)`);
    this.#updateBody = db.prepare<[string, Cas, string]>(`UPDATE ${docs} SET body = ?, cas = ? WHERE id = ?`);
    this.#deleteBody = db.prepare<[string]>(`DELETE FROM ${docs} WHERE id = ?`);
    this.#insertMeta = db.prepare<[string, string, Cas, number, number]>(
      `INSERT INTO ${meta} (id, meta, cas, seq, deleted) VALUES (?, ?, ?, ?, ?)`,
    );
    this.#updateMeta = db.prepare<[string, Cas, number, number, string]>(
      `UPDATE ${meta} SET meta = ?, cas = ?, seq = ?, deleted = ? WHERE id = ?`,
    );
    this.#deleteMeta = db.prepare<[string]>(`DELETE FROM ${meta} WHERE id = ?`);
    // A document has one changes-log entry, at the sequence its metadata row records; channel rows are keyed
    // (channel, seq) and their channels come from that entry's JSON lists, so every delete uses a primary key.
    this.#deleteChannelsOfSeq = db.prepare<[number, number, number]>(
      `DELETE FROM ${channels}
       WHERE seq = ?
         AND channel IN (SELECT j.value FROM ${changes} c, json_each(c.channels) j WHERE c.seq = ?
                         UNION ALL
                         SELECT j.value FROM ${changes} c, json_each(c.removed) j WHERE c.seq = ?)`,
    );
    this.#deleteChangeAt = db.prepare<[number]>(`DELETE FROM ${changes} WHERE seq = ?`);
    this.#metaState = db.prepare<[string], { seq: number; deleted: number; cas: Cas }>(`SELECT seq, deleted, cas FROM ${meta} WHERE id = ?`);
    this.#addLive = db.prepare<[number, string]>('UPDATE live_counts SET live = live + ? WHERE collection = ?');
    this.#insertChange = db.prepare<[number, string, string, number, string, string]>(
      `INSERT INTO ${changes} (seq, doc_id, rev, deleted, channels, removed) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#insertChannel = db.prepare<[string, number]>(
      `INSERT OR IGNORE INTO ${channels} (channel, seq) VALUES (?, ?)`,
    );
    this.#commitTx = db.transaction((writes: readonly DocumentCommit[]) => this.#commitBatch(writes));
    this.#purgeTx = db.transaction((id: string, opts: PurgeOptions) => this.#purgeOne(id, opts));
  }

  commit(write: DocumentCommit): CommitResult {
    return this.#commitTx.immediate([write])[0] ?? CAS_MISMATCH;
  }

  /** Several commits in one transaction; each is checked on its own. A throwing build() aborts them all. */
  commitMany(writes: readonly DocumentCommit[]): CommitResult[] {
    return writes.length === 0 ? [] : this.#commitTx.immediate(writes);
  }

  purge(id: string, opts: PurgeOptions = {}): boolean {
    return this.#purgeTx.immediate(id, opts);
  }

  /**
   * Commits run in segments of distinct ids, each in two phases: (1) cas checks and body writes, whose
   * triggers stamp consecutive cas values; (2) sequence and metadata-cas allocation in memory, metadata and
   * changes-log writes. The counters row is then written once per segment instead of once per commit. The
   * write lock is held throughout, so no other connection can move the counters in between. Every metadata
   * cas is thus above the body cas of the same commit.
   */
  #commitBatch(writes: readonly DocumentCommit[]): CommitResult[] {
    const results: CommitResult[] = [];
    for (const segment of distinctIdSegments(writes)) this.#commitSegment(segment, results);
    return results;
  }

  #commitSegment(writes: readonly DocumentCommit[], results: CommitResult[]): void {
    const startCas = this.#counters().cas;
    const accepted: Accepted[] = [];
    const states = this.#states(writes.map((w) => w.id));
    let bodyWrites = 0;
    for (const [i, write] of writes.entries()) {
      const state = states[i];
      if (!state || state.bodyCas !== write.expectedBodyCas || state.metaCas !== write.expectedMetaCas) {
        results.push(CAS_MISMATCH);
        continue;
      }
      const { id, body } = write;
      let bodyStamp: number | null = null;
      if (typeof body === 'string') {
        bodyStamp = ++bodyWrites;
        if (state.bodyCas === null) this.#insertBody.run(id, body, startCas + bodyStamp);
        else this.#updateBody.run(body, startCas + bodyStamp, id);
      } else if (body === null && state.bodyCas !== null) {
        this.#deleteBody.run(id);
      }
      accepted.push({ index: results.length, write, state, bodyStamp });
      results.push(CAS_MISMATCH);
    }
    if (accepted.length === 0) return;

    let { cas, seq } = this.#counters();
    // Normally each body write's trigger took exactly one cas value, in order. If anything else (e.g. an app's
    // own trigger) moved the counter, read the stamps back instead.
    const exact = cas - startCas === bodyWrites;
    let liveDelta = 0;
    for (const { index, write, state, bodyStamp } of accepted) {
      let bodyCas = write.body === null ? null : state.bodyCas;
      if (bodyStamp !== null) bodyCas = exact ? startCas + bodyStamp : (this.#bodyCas.get(write.id) ?? null);
      seq += 1;
      cas += 1;
      const live = this.#writeMeta(write, seq, cas, state.seq);
      liveDelta += Number(live) - Number(state.live);
      results[index] = { ok: true, seq, bodyCas, metaCas: cas };
    }
    this.#writeCounters.run(cas, seq);
    if (liveDelta !== 0) this.#addLive.run(liveDelta, this.#collection);
  }

  /** Current state of distinct ids, in one statement. */
  #states(ids: readonly string[]): CasState[] {
    const states: CasState[] = [];
    for (const [i, bodyCas, metaCas, seq, deleted] of this.#readStates.all(JSON.stringify(ids))) {
      states[i] = { bodyCas, metaCas, seq, live: deleted === 0 };
    }
    return states;
  }

  #counters(): { cas: Cas; seq: number } {
    const counters = this.#readCounters.get();
    if (!counters) throw new Error('counters row is missing');
    return counters;
  }

  /** Writes the metadata and changes-log rows; returns whether the document is now live. */
  #writeMeta(write: DocumentCommit, seq: number, metaCas: Cas, previousSeq: number | null): boolean {
    const { id } = write;
    const payload = write.build(seq);
    const deleted = payload.deleted ? 1 : 0;
    if (previousSeq !== null) {
      this.#updateMeta.run(payload.meta, metaCas, seq, deleted, id);
      this.#deleteChangeOf(previousSeq);
    } else {
      this.#insertMeta.run(id, payload.meta, metaCas, seq, deleted);
    }
    const { rev, channels, removed } = payload.change;
    this.#insertChange.run(seq, id, rev, payload.change.deleted ? 1 : 0, listJson(channels), listJson(removed));
    for (const channel of channels) this.#insertChannel.run(channel, seq);
    for (const channel of removed) this.#insertChannel.run(channel, seq);
    if (payload.grants) this.#grants.replace(id, payload.grants, seq);
    return deleted === 0;
  }

  #deleteChangeOf(seq: number): number {
    this.#deleteChannelsOfSeq.run(seq, seq, seq);
    return this.#deleteChangeAt.run(seq).changes;
  }

  readGrants(grantees: readonly string[]): GrantRecord[] {
    return this.#grants.read(grantees);
  }

  #purgeOne(id: string, opts: PurgeOptions): boolean {
    const state = this.#metaState.get(id);
    if (opts.expectedMetaCas !== undefined && (state?.cas ?? null) !== opts.expectedMetaCas) return false;
    if (opts.expectedBodyCas !== undefined && (this.#bodyCas.get(id) ?? null) !== opts.expectedBodyCas) return false;
    this.#grants.purge(id);
    const changes = state === undefined ? 0 : this.#deleteChangeOf(state.seq);
    const meta = this.#deleteMeta.run(id).changes;
    if (meta > 0 && state?.deleted === 0) this.#addLive.run(-1, this.#collection);
    const body = this.#deleteBody.run(id).changes;
    return changes + meta + body > 0;
  }
}
