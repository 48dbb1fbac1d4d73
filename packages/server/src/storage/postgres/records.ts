import type { BucketEvent, RecordWriteOptions, StoredRecord } from '../bucket.ts';
import { prefixUpperBound } from '../sqlite/records.ts';
import { RollbackWith, type PgDb } from './pg-db.ts';
import { NOW_MS, type SchemaNames } from './schema.ts';

interface RecordRow {
  key: string;
  value: string;
  version: number;
  expires_at: number | null;
}

const toRecord = (row: RecordRow): StoredRecord => ({ key: row.key, value: row.value, version: row.version, expiresAt: row.expires_at });

/** Small records with version compare-and-set; expiry is judged by the database clock (nodes' clocks may differ). */
export class PgRecords {
  readonly #db: PgDb;
  readonly #sql: Record<'get' | 'setAny' | 'setNew' | 'setVersion' | 'delete' | 'listFrom' | 'listRange' | 'claim' | 'lock' | 'nextSeq' | 'writeSequenced', string>;
  readonly #channel: string;
  readonly #emit: (event: BucketEvent) => void;

  constructor(db: PgDb, n: SchemaNames, emit: (event: BucketEvent) => void) {
    this.#db = db;
    this.#channel = n.channel;
    this.#emit = emit;
    const records = n.t('records');
    const live = (alias: string): string => `(${alias}.expires_at IS NULL OR ${alias}.expires_at > ${NOW_MS})`;
    const expiry = `CASE WHEN $3::bigint IS NULL THEN NULL ELSE ${NOW_MS} + $3::bigint END`;
    const cols = 'key, value, version, expires_at';
    const notify = 'pg_notify($4, $5::text)';
    this.#sql = {
      get: `SELECT ${cols} FROM ${records} r WHERE key = $1 AND ${live('r')}`,
      // No expected version: create or overwrite (versions keep growing across expiry, as in SQLite).
      setAny: `WITH w AS (
                 INSERT INTO ${records} AS r (key, value, version, expires_at) VALUES ($1, $2, 1, ${expiry})
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = r.version + 1, expires_at = excluded.expires_at
                 RETURNING ${cols}
               ) SELECT w.*, ${notify} FROM w`,
      // Expected version 0: create, or replace an expired record.
      setNew: `WITH w AS (
                 INSERT INTO ${records} AS r (key, value, version, expires_at) VALUES ($1, $2, 1, ${expiry})
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = r.version + 1, expires_at = excluded.expires_at
                 WHERE NOT ${live('r')}
                 RETURNING ${cols}
               ) SELECT w.*, ${notify} FROM w`,
      setVersion: `WITH w AS (
                     UPDATE ${records} r SET value = $2, version = r.version + 1, expires_at = ${expiry}
                     WHERE key = $1 AND version = $6 AND ${live('r')}
                     RETURNING ${cols}
                   ) SELECT w.*, ${notify} FROM w`,
      // An expired record is removed too, but reported as absent.
      delete: `WITH w AS (
                 DELETE FROM ${records} r WHERE key = $1 AND (NOT ${live('r')} OR $2::bigint IS NULL OR version = $2::bigint)
                 RETURNING ${live('r')} AS live
               ) SELECT w.live, CASE WHEN w.live THEN pg_notify($3, $4::text) END FROM w`,
      listFrom: `SELECT ${cols} FROM ${records} r WHERE key >= $1 AND ${live('r')} ORDER BY key`,
      listRange: `SELECT ${cols} FROM ${records} r WHERE key >= $1 AND key < $2 AND ${live('r')} ORDER BY key`,
      claim: `INSERT INTO ${records} (key, value, version, expires_at) VALUES ($1, '', 0, NULL) ON CONFLICT (key) DO NOTHING`,
      lock: `SELECT version, ${live('r')} AS live FROM ${records} r WHERE key = $1 FOR UPDATE`,
      nextSeq: `UPDATE ${n.t('counters')} SET seq = seq + 1 WHERE id = 1 RETURNING seq`,
      writeSequenced: `WITH w AS (
                         UPDATE ${records} SET value = $2, version = version + 1, expires_at = NULL WHERE key = $1
                         RETURNING ${cols}
                       ) SELECT w.*, pg_notify($3, $5::text), pg_notify($3, 's:' || $4::bigint) FROM w`,
    };
  }

  /** NOTIFY payloads are limited to 8000 bytes: a key too long for one is announced as a resync. */
  #payload(key: string): string {
    return Buffer.byteLength(key) < 7900 ? `r:${key}` : 'resync';
  }

  async get(key: string): Promise<StoredRecord | null> {
    const [row] = await this.#db.rows<RecordRow>(this.#sql.get, [key]);
    return row ? toRecord(row) : null;
  }

  async set(key: string, value: string, opts: RecordWriteOptions = {}): Promise<StoredRecord | null> {
    const { expectedVersion, ttlMs } = opts;
    const sql = expectedVersion === undefined ? this.#sql.setAny : expectedVersion === 0 ? this.#sql.setNew : this.#sql.setVersion;
    const params: unknown[] = [key, value, ttlMs ?? null, this.#channel, this.#payload(key)];
    if (expectedVersion !== undefined && expectedVersion !== 0) params.push(expectedVersion);
    const run = async (): Promise<RecordRow[]> =>
      opts.durable === false
        ? this.#db.transaction(async (tx) => (await tx.query<RecordRow>(sql, params)).rows, { durable: false })
        : this.#db.rows<RecordRow>(sql, params);
    const [row] = await run();
    if (!row) return null;
    this.#emit({ kind: 'record', key });
    return toRecord(row);
  }

  async delete(key: string, expectedVersion?: number): Promise<boolean> {
    const [row] = await this.#db.rows<{ live: boolean }>(this.#sql.delete, [key, expectedVersion ?? null, this.#channel, this.#payload(key)]);
    if (row?.live !== true) return false;
    this.#emit({ kind: 'record', key });
    return true;
  }

  /**
   * Claims the key (placeholder row, version 0) before taking the counters row lock, so that two creators of
   * the same record never wait for each other in opposite order; the placeholder disappears with a rollback.
   */
  async setAtSequence(key: string, expectedVersion: number, build: (seq: number) => string): Promise<{ record: StoredRecord; seq: number } | null> {
    const result = await this.#db.transaction(async (tx) => {
      await tx.query(this.#sql.claim, [key]);
      const [current] = (await tx.query<{ version: number; live: boolean }>(this.#sql.lock, [key])).rows;
      const version = current?.live ? current.version : 0;
      // Roll back: the placeholder row of a claim must not stay.
      if (version !== expectedVersion) throw new RollbackWith(null);
      const [counter] = (await tx.query<{ seq: number }>(this.#sql.nextSeq)).rows;
      if (!counter) throw new Error('counters row is missing');
      const value = build(counter.seq);
      const [row] = (await tx.query<RecordRow>(this.#sql.writeSequenced, [key, value, this.#channel, counter.seq, this.#payload(key)])).rows;
      if (!row) throw new Error(`record ${key} vanished while locked`);
      return { record: toRecord(row), seq: counter.seq };
    });
    if (result) {
      this.#emit({ kind: 'record', key });
      this.#emit({ kind: 'sequence', seq: result.seq });
    }
    return result;
  }

  async list(prefix: string): Promise<StoredRecord[]> {
    const upper = prefixUpperBound(prefix);
    const rows = upper === null
      ? await this.#db.rows<RecordRow>(this.#sql.listFrom, [prefix])
      : await this.#db.rows<RecordRow>(this.#sql.listRange, [prefix, upper]);
    return rows.filter((row) => row.key.startsWith(prefix)).map(toRecord);
  }
}

/** Content-addressed blobs in a bytea table. */
export class PgBlobs {
  readonly #db: PgDb;
  readonly #table: string;

  constructor(db: PgDb, n: SchemaNames) {
    this.#db = db;
    this.#table = n.t('blobs');
  }

  async put(digest: string, data: Uint8Array): Promise<void> {
    const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await this.#db.query(`INSERT INTO ${this.#table} (digest, data) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING`, [digest, buffer]);
  }

  async get(digest: string): Promise<Uint8Array | null> {
    const [row] = await this.#db.rows<{ data: Buffer }>(`SELECT data FROM ${this.#table} WHERE digest = $1`, [digest]);
    return row ? new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) : null;
  }

  async has(digest: string): Promise<boolean> {
    return (await this.#db.rows(`SELECT 1 FROM ${this.#table} WHERE digest = $1`, [digest])).length > 0;
  }

  async delete(digest: string): Promise<void> {
    await this.#db.query(`DELETE FROM ${this.#table} WHERE digest = $1`, [digest]);
  }

  async list(): Promise<string[]> {
    return (await this.#db.rows<{ digest: string }>(`SELECT digest FROM ${this.#table} ORDER BY digest`)).map((r) => r.digest);
  }
}
