import type Database from 'better-sqlite3';
import type {
  ChangeRecord,
  ChangesQuery,
  Collection,
  CommitResult,
  DocumentCommit,
  GrantRecord,
  MetaRow,
  MutationBacklog,
  MutationRecord,
  PurgeOptions,
  ScanQuery,
  StoredDoc,
} from '../bucket.ts';
import { q, type CollectionTables } from './schema.ts';
import { SqliteCommitter } from './sqlite-commit.ts';

type Db = Database.Database;
type Stmt = Database.Statement<unknown[]>;

/** id, body, body cas, metadata, metadata cas. */
type DocTuple = [string, string | null, number | null, string | null, number | null];

/** seq, doc_id, rev, deleted, channels, removed and, with withMeta, the metadata. */
type ChangeTuple = [number, string, string | null, number | null, string | null, string | null, (string | null)?];

interface MetaDbRow {
  id: string;
  meta: string;
  cas: number;
  seq: number;
  deleted: number;
}

const parseList = (json: string | null): string[] => (json && json !== '[]' ? (JSON.parse(json) as string[]) : []);
const toMetaRow = (r: MetaDbRow): MetaRow => ({ id: r.id, meta: r.meta, metaCas: r.cas, seq: r.seq, deleted: r.deleted !== 0 });
const toDoc = ([id, body, bodyCas, meta, metaCas]: DocTuple): StoredDoc | null =>
  body === null && meta === null ? null : { id, body, bodyCas, meta, metaCas };

export class SqliteCollection implements Collection {
  readonly name: string;
  readonly documentsTable: string;
  readonly #db: Db;
  readonly #t: CollectionTables;
  readonly #writer: SqliteCommitter;
  readonly #statements = new Map<string, Stmt>();
  readonly #selectOne: Database.Statement<[string], DocTuple>;
  readonly #selectMany: Database.Statement<[string], DocTuple>;
  readonly #countLive;
  readonly #readMutations;
  readonly #trimMutations;
  readonly #scanUnimported;
  readonly #listTombstones;

  readonly #partitions: number;
  readonly #committed: (seq: number) => void;
  readonly #backlog;

  /** `committed` is told the highest sequence of every successful commit (for Bucket.watch). */
  constructor(db: Db, name: string, tables: CollectionTables, partitions = 1, committed: (seq: number) => void = () => {}) {
    this.#partitions = partitions;
    this.#committed = committed;
    this.name = name;
    this.documentsTable = tables.documents;
    this.#db = db;
    this.#t = tables;
    this.#writer = new SqliteCommitter(db, name, tables);
    this.#countLive = db.prepare<[string], number>('SELECT live FROM live_counts WHERE collection = ?').pluck();
    const [docs, meta] = [q(tables.documents), q(tables.meta)];
    this.#selectOne = db
      .prepare<[string], DocTuple>(
        `WITH k(id) AS (VALUES (?))
         SELECT k.id, d.body, d.cas, m.meta, m.cas FROM k LEFT JOIN ${docs} d ON d.id = k.id LEFT JOIN ${meta} m ON m.id = k.id`,
      )
      .raw();
    // The ids travel as one JSON array, however many there are. SQLite decodes each to the same text as a bound
    // string (lone surrogates included), so lookups and the ids returned match those of #selectOne.
    this.#selectMany = db
      .prepare<[string], DocTuple>(
        `SELECT k.value, d.body, d.cas, m.meta, m.cas FROM json_each(?) k
         LEFT JOIN ${docs} d ON d.id = k.value LEFT JOIN ${meta} m ON m.id = k.value`,
      )
      .raw();
    this.#readMutations = db.prepare<[number, number, number], MutationRecord>(
      `SELECT position, "partition" AS partition, doc_id AS id, cas, op, at FROM ${q(tables.mutations)}
       WHERE "partition" = ? AND position > ? ORDER BY position LIMIT ?`,
    );
    this.#scanUnimported = db
      .prepare<[string, string, number], string>(
        `SELECT id FROM (
           SELECT d.id AS id FROM ${docs} d LEFT JOIN ${meta} m ON m.id = d.id
           WHERE d.id > ? AND (m.id IS NULL OR d.cas > m.cas)
           UNION ALL
           SELECT m.id FROM ${meta} m
           WHERE m.id > ? AND m.deleted = 0 AND NOT EXISTS (SELECT 1 FROM ${docs} d WHERE d.id = m.id)
         ) ORDER BY id LIMIT ?`,
      )
      .pluck();
    // Served by the partial index on tombstones (schema.ts): live documents are never read.
    this.#listTombstones = db.prepare<[string, number], MetaDbRow>(
      `SELECT id, meta, cas, seq, deleted FROM ${meta} WHERE deleted = 1 AND id > ? ORDER BY id LIMIT ?`,
    );
    this.#backlog = db.prepare<[number, number], { pending: number; oldestAt: number | null }>(
      `SELECT count(*) AS pending, min(at) AS oldestAt FROM ${q(tables.mutations)} WHERE "partition" = ? AND position > ?`,
    );
    this.#trimMutations = db.prepare<[number, number]>(
      `DELETE FROM ${q(tables.mutations)} WHERE "partition" = ? AND position <= ?`,
    );
  }

  /** Statements whose SQL depends on the query shape, prepared on first use; `raw` ones return arrays. */
  #statement(sql: string, raw = false): Stmt {
    const key = raw ? `raw:${sql}` : sql;
    let stmt = this.#statements.get(key);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      if (raw) stmt.raw();
      this.#statements.set(key, stmt);
    }
    return stmt;
  }

  async get(id: string): Promise<StoredDoc | null> {
    const row = this.#selectOne.get(id);
    return row ? toDoc(row) : null;
  }

  async getMany(ids: readonly string[]): Promise<Map<string, StoredDoc>> {
    const found = new Map<string, StoredDoc>();
    for (const row of this.#selectMany.all(JSON.stringify([...new Set(ids)]))) {
      const doc = toDoc(row);
      if (doc) found.set(doc.id, doc);
    }
    return found;
  }

  async commit(write: DocumentCommit): Promise<CommitResult> {
    const result = this.#writer.commit(write);
    if (result.ok) this.#committed(result.seq);
    return result;
  }

  async commitMany(writes: readonly DocumentCommit[]): Promise<CommitResult[]> {
    const results = this.#writer.commitMany(writes);
    let highest = 0;
    for (const result of results) if (result.ok && result.seq > highest) highest = result.seq;
    if (highest > 0) this.#committed(highest);
    return results;
  }

  async purge(id: string, opts?: PurgeOptions): Promise<boolean> {
    return this.#writer.purge(id, opts);
  }

  async listTombstones(afterId: string, limit: number): Promise<MetaRow[]> {
    return this.#listTombstones.all(afterId, limit).map(toMetaRow);
  }

  async scanMeta(query: ScanQuery): Promise<MetaRow[]> {
    const { startKey, endKey, descending = false, inclusiveEnd = true } = query;
    // CouchDB semantics: when descending, startKey is the upper bound and endKey the lower one.
    const where: string[] = [];
    const params: unknown[] = [];
    if (startKey !== undefined) {
      where.push(descending ? 'id <= ?' : 'id >= ?');
      params.push(startKey);
    }
    if (endKey !== undefined) {
      where.push(descending ? (inclusiveEnd ? 'id >= ?' : 'id > ?') : inclusiveEnd ? 'id <= ?' : 'id < ?');
      params.push(endKey);
    }
    if (!query.includeDeleted) where.push('deleted = 0');
    const sql = `SELECT id, meta, cas, seq, deleted FROM ${q(this.#t.meta)}
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id ${descending ? 'DESC' : 'ASC'} LIMIT ? OFFSET ?`;
    params.push(query.limit ?? -1, query.skip ?? 0);
    return (this.#statement(sql).all(...params) as MetaDbRow[]).map(toMetaRow);
  }

  async countLive(): Promise<number> {
    return this.#countLive.get(this.name) ?? 0;
  }

  async readGrants(grantees: readonly string[]): Promise<GrantRecord[]> {
    return this.#writer.readGrants(grantees);
  }

  async readChanges(query: ChangesQuery): Promise<ChangeRecord[]> {
    const where = ['c.seq > ?'];
    const params: unknown[] = [query.since];
    if (query.channels) {
      // Channel and id lists travel as one JSON parameter, so their length is not bound by variable limits.
      where.push(`c.seq IN (SELECT cc.seq FROM ${q(this.#t.changeChannels)} cc
        WHERE cc.channel IN (SELECT value FROM json_each(?)) AND cc.seq > ?)`);
      params.push(JSON.stringify(query.channels), query.since);
    }
    if (query.docIds) {
      // A document's metadata row holds the sequence of its one changes-log entry.
      where.push(`c.seq IN (SELECT m.seq FROM ${q(this.#t.meta)} m WHERE m.id IN (SELECT value FROM json_each(?)))`);
      params.push(JSON.stringify(query.docIds));
    }
    const sql = query.withMeta
      ? `SELECT c.seq, c.doc_id, c.rev, c.deleted, c.channels, c.removed, sm.meta FROM ${q(this.#t.changes)} c
         LEFT JOIN ${q(this.#t.meta)} sm ON sm.id = c.doc_id
         WHERE ${where.join(' AND ')} ORDER BY c.seq LIMIT ?`
      : `SELECT c.seq, c.doc_id, c.rev, c.deleted, c.channels, c.removed FROM ${q(this.#t.changes)} c
         WHERE ${where.join(' AND ')} ORDER BY c.seq LIMIT ?`;
    params.push(query.limit ?? -1);
    const rows = this.#statement(sql, true).all(...params) as ChangeTuple[];
    return rows.map(([seq, id, rev, deleted, channels, removed, meta]) => {
      const record: ChangeRecord = { seq, id, rev: rev ?? '', deleted: deleted === 1, channels: parseList(channels), removed: parseList(removed) };
      if (query.withMeta) record.meta = meta ?? null;
      return record;
    });
  }

  async readMutations(partition: number, after: number, limit: number): Promise<MutationRecord[]> {
    return this.#readMutations.all(partition, after, limit);
  }

  async scanUnimported(afterId: string, limit: number): Promise<string[]> {
    return this.#scanUnimported.all(afterId, afterId, limit);
  }

  async trimMutations(partition: number, upTo: number): Promise<void> {
    this.#trimMutations.run(partition, upTo);
  }

  async mutationBacklog(after: readonly number[]): Promise<MutationBacklog[]> {
    const backlog: MutationBacklog[] = [];
    for (let partition = 0; partition < this.#partitions; partition++) {
      const row = this.#backlog.get(partition, after[partition] ?? 0) ?? { pending: 0, oldestAt: null };
      backlog.push({ partition, pending: row.pending, oldestAt: row.oldestAt });
    }
    return backlog;
  }
}
