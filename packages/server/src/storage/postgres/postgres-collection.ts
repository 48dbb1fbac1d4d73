import type {
  BucketEvent,
  ChangeRecord,
  ChangesQuery,
  Collection,
  CommitResult,
  DocumentCommit,
  GrantRecord,
  MetaRow,
  MutationBacklog,
  MutationOp,
  MutationRecord,
  PurgeOptions,
  ScanQuery,
  StoredDoc,
} from '../bucket.ts';
import { int4Key, lit, type PgDb } from './pg-db.ts';
import { PgCommitter } from './postgres-commit.ts';
import type { CollectionTables, SchemaNames } from './schema.ts';

interface DocRow {
  id: string;
  body: string | null;
  body_cas: number | null;
  meta: string | null;
  meta_cas: number | null;
}

interface MetaDbRow {
  id: string;
  meta: string;
  cas: number;
  seq: number;
  deleted: boolean;
}

interface ChangeRow {
  seq: number;
  doc_id: string;
  rev: string | null;
  deleted: boolean | null;
  channels: string[] | null;
  removed: string[] | null;
  meta?: string | null;
}

interface MutationRow {
  position: number;
  partition: number;
  id: string;
  cas: number | null;
  op: MutationOp;
  at: number | null;
}

/**
 * jsonb prints `{"a": 1, "b": [1, 2]}`; SQLite returns the text as written, which the gateway writes compactly.
 * Removes the blanks outside strings (jsonb's output has no other whitespace), keeping every token as printed.
 */
export function compactJsonb(text: string): string {
  if (!text.includes(' ')) return text;
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x20) {
      out += text.slice(from, i);
      from = i + 1;
    }
  }
  return out + text.slice(from);
}

const toMetaRow = (r: MetaDbRow): MetaRow => ({ id: r.id, meta: r.meta, metaCas: r.cas, seq: r.seq, deleted: r.deleted });

const toDoc = (r: DocRow): StoredDoc | null =>
  r.body === null && r.meta === null
    ? null
    : { id: r.id, body: r.body === null ? null : compactJsonb(r.body), bodyCas: r.body_cas, meta: r.meta, metaCas: r.meta_cas };

export class PgCollection implements Collection {
  readonly name: string;
  readonly documentsTable: string;
  readonly #db: PgDb;
  readonly #t: CollectionTables;
  readonly #n: SchemaNames;
  readonly #partitions: number;
  readonly #writer: PgCommitter;
  /** First key of the per-partition advisory lock taken while assigning mutation-log positions. */
  readonly #mutationLockKey: number;
  readonly #sql: Record<'get' | 'getMany' | 'pending' | 'promote' | 'readMutations' | 'trim' | 'backlog' | 'unimported' | 'tombstones' | 'countLive', string>;

  constructor(db: PgDb, n: SchemaNames, name: string, tables: CollectionTables, partitions: number, emit: (event: BucketEvent) => void) {
    this.name = name;
    this.documentsTable = tables.documents;
    this.#db = db;
    this.#t = tables;
    this.#n = n;
    this.#partitions = partitions;
    this.#writer = new PgCommitter(db, n, name, tables, emit);
    this.#mutationLockKey = int4Key(`syncline-mutations:${n.schema}.${tables.mutations}`);
    const [docs, meta, mutations] = [n.t(tables.documents), n.t(tables.meta), n.t(tables.mutations)];
    const docSelect = `k.id, d.body::text AS body, d.cas AS body_cas, m.meta, m.cas AS meta_cas`;
    this.#sql = {
      get: `SELECT ${docSelect} FROM (SELECT $1::text AS id) k
            LEFT JOIN ${docs} d ON d.id = k.id LEFT JOIN ${meta} m ON m.id = k.id`,
      getMany: `SELECT ${docSelect} FROM unnest($1::text[]) AS k(id)
                LEFT JOIN ${docs} d ON d.id = k.id LEFT JOIN ${meta} m ON m.id = k.id`,
      // Only rows of committed transactions are visible here, and only one transaction per partition assigns
      // positions at a time (advisory lock, held until commit): a position, once readable, is above every
      // position readable before it, so a reader moving its cursor forward never skips a committed write.
      // One cheap round trip for a partition with nothing new (most of them, most of the time): an empty answer
      // moves no cursor, so answering it from this snapshot rather than the promoting one skips nothing.
      pending: `SELECT EXISTS (SELECT 1 FROM ${mutations} WHERE "partition" = $1 AND position IS NULL)
                    OR EXISTS (SELECT 1 FROM ${mutations} WHERE "partition" = $1 AND position > $2) AS pending`,
      promote: `
        WITH s AS (
          SELECT ord, nextval(${lit(n.t('mutation_position'))}::regclass) AS pos
          FROM (SELECT ord FROM ${mutations} WHERE "partition" = $1 AND position IS NULL ORDER BY ord) x
        )
        UPDATE ${mutations} m SET position = s.pos FROM s WHERE m.ord = s.ord`,
      readMutations: `SELECT position, "partition" AS partition, doc_id AS id, cas, op, at FROM ${mutations}
                      WHERE "partition" = $1 AND position > $2 ORDER BY position LIMIT $3`,
      trim: `DELETE FROM ${mutations} WHERE "partition" = $1 AND position <= $2`,
      backlog: `SELECT "partition" AS partition, count(*) AS pending, min(at) AS oldest FROM ${mutations}
                WHERE position IS NULL OR position > coalesce(($1::bigint[])["partition" + 1], 0)
                GROUP BY "partition"`,
      unimported: `
        SELECT id FROM (
          SELECT d.id AS id FROM ${docs} d LEFT JOIN ${meta} m ON m.id = d.id
          WHERE d.id > $1 AND (m.id IS NULL OR d.cas > m.cas)
          UNION ALL
          SELECT m.id FROM ${meta} m
          WHERE m.id > $1 AND NOT m.deleted AND NOT EXISTS (SELECT 1 FROM ${docs} d WHERE d.id = m.id)
        ) u ORDER BY id LIMIT $2`,
      tombstones: `SELECT id, meta, cas, seq, deleted FROM ${meta} WHERE deleted AND id > $1 ORDER BY id LIMIT $2`,
      countLive: `SELECT live FROM ${n.t('live_counts')} WHERE collection = $1`,
    };
  }

  async get(id: string): Promise<StoredDoc | null> {
    const [row] = await this.#db.rows<DocRow>(this.#sql.get, [id]);
    return row ? toDoc(row) : null;
  }

  async getMany(ids: readonly string[]): Promise<Map<string, StoredDoc>> {
    const found = new Map<string, StoredDoc>();
    if (ids.length === 0) return found;
    for (const row of await this.#db.rows<DocRow>(this.#sql.getMany, [[...new Set(ids)]])) {
      const doc = toDoc(row);
      if (doc) found.set(doc.id, doc);
    }
    return found;
  }

  async commit(write: DocumentCommit): Promise<CommitResult> {
    return this.#writer.commit(write);
  }

  async commitMany(writes: readonly DocumentCommit[]): Promise<CommitResult[]> {
    return this.#writer.commitMany(writes);
  }

  async purge(id: string, opts?: PurgeOptions): Promise<boolean> {
    return this.#writer.purge(id, opts);
  }

  async listTombstones(afterId: string, limit: number): Promise<MetaRow[]> {
    return (await this.#db.rows<MetaDbRow>(this.#sql.tombstones, [afterId, limit])).map(toMetaRow);
  }

  async scanMeta(query: ScanQuery): Promise<MetaRow[]> {
    const { startKey, endKey, descending = false, inclusiveEnd = true } = query;
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    // CouchDB semantics: when descending, startKey is the upper bound and endKey the lower one.
    if (startKey !== undefined) where.push(`id ${descending ? '<=' : '>='} ${param(startKey)}`);
    if (endKey !== undefined) {
      const op = descending ? (inclusiveEnd ? '>=' : '>') : inclusiveEnd ? '<=' : '<';
      where.push(`id ${op} ${param(endKey)}`);
    }
    if (!query.includeDeleted) where.push('NOT deleted');
    const limit = query.limit === undefined || query.limit < 0 ? null : query.limit;
    const sql = `SELECT id, meta, cas, seq, deleted FROM ${this.#n.t(this.#t.meta)}
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY id ${descending ? 'DESC' : 'ASC'} LIMIT ${param(limit)} OFFSET ${param(query.skip ?? 0)}`;
    return (await this.#db.rows<MetaDbRow>(sql, params)).map(toMetaRow);
  }

  async countLive(): Promise<number> {
    const [row] = await this.#db.rows<{ live: number }>(this.#sql.countLive, [this.name]);
    return row?.live ?? 0;
  }

  async readGrants(grantees: readonly string[]): Promise<GrantRecord[]> {
    return this.#writer.readGrants(grantees);
  }

  async readChanges(query: ChangesQuery): Promise<ChangeRecord[]> {
    const params: unknown[] = [query.since];
    const where = ['c.seq > $1'];
    const [changes, channels, meta] = [this.#n.t(this.#t.changes), this.#n.t(this.#t.changeChannels), this.#n.t(this.#t.meta)];
    if (query.channels) {
      params.push(query.channels);
      where.push(`c.seq IN (SELECT cc.seq FROM ${channels} cc WHERE cc.channel = ANY($${params.length}::text[]) AND cc.seq > $1)`);
    }
    if (query.docIds) {
      // A document's metadata row holds the sequence of its one changes-log entry.
      params.push(query.docIds);
      where.push(`c.seq IN (SELECT m.seq FROM ${meta} m WHERE m.id = ANY($${params.length}::text[]))`);
    }
    params.push(query.limit === undefined || query.limit < 0 ? null : query.limit);
    const sql = query.withMeta
      ? `SELECT c.seq, c.doc_id, c.rev, c.deleted, c.channels, c.removed, sm.meta FROM ${changes} c
         LEFT JOIN ${meta} sm ON sm.id = c.doc_id
         WHERE ${where.join(' AND ')} ORDER BY c.seq LIMIT $${params.length}`
      : `SELECT c.seq, c.doc_id, c.rev, c.deleted, c.channels, c.removed FROM ${changes} c
         WHERE ${where.join(' AND ')} ORDER BY c.seq LIMIT $${params.length}`;
    const rows = await this.#db.rows<ChangeRow>(sql, params);
    return rows.map((r) => {
      const record: ChangeRecord = {
        seq: r.seq,
        id: r.doc_id,
        rev: r.rev ?? '',
        deleted: r.deleted === true,
        channels: r.channels ?? [],
        removed: r.removed ?? [],
      };
      if (query.withMeta) record.meta = r.meta ?? null;
      return record;
    });
  }

  async readMutations(partition: number, after: number, limit: number): Promise<MutationRecord[]> {
    const [probe] = await this.#db.rows<{ pending: boolean }>(this.#sql.pending, [partition, after]);
    if (!probe?.pending) return [];
    return this.#db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1::integer, $2::integer)', [this.#mutationLockKey, partition]);
      await tx.query(this.#sql.promote, [partition]);
      return (await tx.query<MutationRow>(this.#sql.readMutations, [partition, after, limit])).rows;
    });
  }

  async scanUnimported(afterId: string, limit: number): Promise<string[]> {
    return (await this.#db.rows<{ id: string }>(this.#sql.unimported, [afterId, limit])).map((r) => r.id);
  }

  async trimMutations(partition: number, upTo: number): Promise<void> {
    await this.#db.query(this.#sql.trim, [partition, upTo]);
  }

  async mutationBacklog(after: readonly number[]): Promise<MutationBacklog[]> {
    const backlog: MutationBacklog[] = Array.from({ length: this.#partitions }, (_, partition) => ({
      partition,
      pending: 0,
      oldestAt: null,
    }));
    const positions = Array.from({ length: this.#partitions }, (_, p) => after[p] ?? 0);
    const rows = await this.#db.rows<{ partition: number; pending: number; oldest: number | null }>(this.#sql.backlog, [positions]);
    for (const row of rows) {
      const entry = backlog[row.partition];
      if (entry) {
        entry.pending = row.pending;
        entry.oldestAt = row.oldest;
      }
    }
    return backlog;
  }
}
