import type Database from 'better-sqlite3';
import type {
  ChangeRecord,
  ChangesQuery,
  Collection,
  CommitResult,
  DocumentCommit,
  MetaRow,
  MutationRecord,
  ScanQuery,
  StoredDoc,
} from '../bucket.ts';
import { q, type CollectionTables } from './schema.ts';
import { SqliteCommitter } from './sqlite-commit.ts';

type Db = Database.Database;
type Stmt = Database.Statement<unknown[]>;

/** Ids per getMany query, well below SQLite's bound-variable limit. */
const GET_MANY_CHUNK = 512;

interface DocRow {
  id: string;
  body: string | null;
  bodyCas: number | null;
  meta: string | null;
  metaCas: number | null;
}

interface ChangeRow {
  seq: number;
  doc_id: string;
  rev: string | null;
  deleted: number | null;
  channels: string | null;
  removed: string | null;
}

interface MetaDbRow {
  id: string;
  meta: string;
  cas: number;
  seq: number;
  deleted: number;
}

const parseList = (json: string | null): string[] => (json ? (JSON.parse(json) as string[]) : []);
const toDoc = (row: DocRow): StoredDoc | null =>
  row.body === null && row.meta === null
    ? null
    : { id: row.id, body: row.body, bodyCas: row.bodyCas, meta: row.meta, metaCas: row.metaCas };

export class SqliteCollection implements Collection {
  readonly name: string;
  readonly documentsTable: string;
  readonly #db: Db;
  readonly #t: CollectionTables;
  readonly #writer: SqliteCommitter;
  readonly #statements = new Map<string, Stmt>();
  readonly #countLive;
  readonly #readMutations;
  readonly #trimMutations;

  constructor(db: Db, name: string, tables: CollectionTables) {
    this.name = name;
    this.documentsTable = tables.documents;
    this.#db = db;
    this.#t = tables;
    this.#writer = new SqliteCommitter(db, tables);
    this.#countLive = db.prepare<[], number>(`SELECT count(*) FROM ${q(tables.meta)} WHERE deleted = 0`).pluck();
    this.#readMutations = db.prepare<[number, number, number], MutationRecord>(
      `SELECT position, "partition" AS partition, doc_id AS id, cas, op FROM ${q(tables.mutations)}
       WHERE "partition" = ? AND position > ? ORDER BY position LIMIT ?`,
    );
    this.#trimMutations = db.prepare<[number, number]>(
      `DELETE FROM ${q(tables.mutations)} WHERE "partition" = ? AND position <= ?`,
    );
  }

  /** Statements whose SQL depends on the query shape, prepared on first use. */
  #statement(sql: string): Stmt {
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #selectDocs(count: number): Stmt {
    const keys = Array.from({ length: count }, () => '(?)').join(', ');
    return this.#statement(
      `WITH k(id) AS (VALUES ${keys})
       SELECT k.id AS id, d.body AS body, d.cas AS bodyCas, m.meta AS meta, m.cas AS metaCas
       FROM k LEFT JOIN ${q(this.#t.documents)} d ON d.id = k.id LEFT JOIN ${q(this.#t.meta)} m ON m.id = k.id`,
    );
  }

  async get(id: string): Promise<StoredDoc | null> {
    const row = this.#selectDocs(1).get(id) as DocRow | undefined;
    return row ? toDoc(row) : null;
  }

  async getMany(ids: readonly string[]): Promise<Map<string, StoredDoc>> {
    const unique = [...new Set(ids)];
    const found = new Map<string, StoredDoc>();
    for (let i = 0; i < unique.length; i += GET_MANY_CHUNK) {
      const chunk = unique.slice(i, i + GET_MANY_CHUNK);
      // Pad to a power of two (repeating an id) so that only a few statement shapes get prepared.
      const size = Math.min(GET_MANY_CHUNK, 2 ** Math.ceil(Math.log2(chunk.length)));
      const last = chunk[chunk.length - 1] ?? '';
      while (chunk.length < size) chunk.push(last);
      for (const row of this.#selectDocs(size).all(...chunk) as DocRow[]) {
        const doc = toDoc(row);
        if (doc) found.set(doc.id, doc);
      }
    }
    return found;
  }

  async commit(write: DocumentCommit): Promise<CommitResult> {
    return this.#writer.commit(write);
  }

  async commitMany(writes: readonly DocumentCommit[]): Promise<CommitResult[]> {
    return this.#writer.commitMany(writes);
  }

  async purge(id: string): Promise<boolean> {
    return this.#writer.purge(id);
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
    const rows = this.#statement(sql).all(...params) as MetaDbRow[];
    return rows.map((r) => ({ id: r.id, meta: r.meta, metaCas: r.cas, seq: r.seq, deleted: r.deleted !== 0 }));
  }

  async countLive(): Promise<number> {
    return this.#countLive.get() ?? 0;
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
    const sql = `SELECT c.seq, c.doc_id, c.rev, c.deleted, c.channels, c.removed FROM ${q(this.#t.changes)} c
      WHERE ${where.join(' AND ')} ORDER BY c.seq LIMIT ?`;
    params.push(query.limit ?? -1);
    const rows = this.#statement(sql).all(...params) as ChangeRow[];
    return rows.map((r) => ({
      seq: r.seq,
      id: r.doc_id,
      rev: r.rev ?? '',
      deleted: r.deleted === 1,
      channels: parseList(r.channels),
      removed: parseList(r.removed),
    }));
  }

  async readMutations(partition: number, after: number, limit: number): Promise<MutationRecord[]> {
    return this.#readMutations.all(partition, after, limit);
  }

  async trimMutations(partition: number, upTo: number): Promise<void> {
    this.#trimMutations.run(partition, upTo);
  }
}
