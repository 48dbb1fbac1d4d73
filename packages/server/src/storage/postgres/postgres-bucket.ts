import type pg from 'pg';
import { unavailable } from '../../base/errors.ts';
import type { Bucket, BucketEvent, Collection, RecordWriteOptions, StoredRecord } from '../bucket.ts';
import { validatePartitions } from '../sqlite/partition.ts';
import { normalizeCollectionName } from '../sqlite/schema.ts';
import { BucketListener } from './listener.ts';
import { applyPgMigrations, lockDdl, storedPartitions } from './migrations.ts';
import { describeConnectError, int4Key, isConnectionError, PG_TYPES, PgDb } from './pg-db.ts';
import { PgCollection } from './postgres-collection.ts';
import { PgBlobs, PgRecords } from './records.ts';
import { DEFAULT_PG_PARTITIONS, ensureCollection, SchemaNames } from './schema.ts';

export interface PostgresBucketOptions {
  /** Schema holding the bucket's tables (created if missing). Default "public". */
  schema?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Mutation-log partitions when the bucket is created; an existing bucket keeps its stored count. Default 16. */
  partitions?: number;
  /** Milliseconds to wait for a connection before failing. Default 10000. */
  connectTimeoutMs?: number;
}

export const DEFAULT_PG_POOL_SIZE = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

class PgBucket implements Bucket {
  readonly engine = 'postgres';
  readonly partitions: number;
  readonly #db: PgDb;
  readonly #names: SchemaNames;
  readonly #collections = new Map<string, Promise<PgCollection>>();
  readonly #blobs: PgBlobs;
  readonly #records: PgRecords;
  readonly #listener: BucketListener;
  readonly #emit: (event: BucketEvent) => void;
  #closed = false;

  constructor(db: PgDb, names: SchemaNames, partitions: number) {
    this.#db = db;
    this.#names = names;
    this.partitions = partitions;
    this.#listener = new BucketListener(db.config, names.channel, db.backendPids);
    this.#emit = (event) => this.#listener.emit(event);
    this.#blobs = new PgBlobs(db, names);
    this.#records = new PgRecords(db, names, this.#emit);
  }

  async collection(name?: string): Promise<Collection> {
    const canonical = normalizeCollectionName(name);
    let collection = this.#collections.get(canonical);
    if (!collection) {
      collection = this.#db
        .transaction(async (tx) => {
          const existing = await tx.query(`SELECT 1 FROM ${this.#names.t('collections')} WHERE name = $1`, [canonical]);
          if (existing.rows.length === 0) await lockDdl(tx, this.#names);
          return ensureCollection(tx, this.#names, canonical, this.partitions);
        })
        .then((tables) => new PgCollection(this.#db, this.#names, canonical, tables, this.partitions, this.#emit));
      this.#collections.set(canonical, collection);
      collection.catch(() => this.#collections.delete(canonical));
    }
    return collection;
  }

  async lastSequence(): Promise<number> {
    const [row] = await this.#db.rows<{ seq: number }>(`SELECT seq FROM ${this.#names.t('counters')} WHERE id = 1`);
    return row?.seq ?? 0;
  }

  async putBlob(digest: string, data: Uint8Array): Promise<void> {
    await this.#blobs.put(digest, data);
  }

  async getBlob(digest: string): Promise<Uint8Array | null> {
    return this.#blobs.get(digest);
  }

  async hasBlob(digest: string): Promise<boolean> {
    return this.#blobs.has(digest);
  }

  async deleteBlob(digest: string): Promise<void> {
    await this.#blobs.delete(digest);
  }

  async listBlobDigests(): Promise<string[]> {
    return this.#blobs.list();
  }

  async getRecord(key: string): Promise<StoredRecord | null> {
    return this.#records.get(key);
  }

  async setRecord(key: string, value: string, opts?: RecordWriteOptions): Promise<StoredRecord | null> {
    return this.#records.set(key, value, opts);
  }

  async setRecordAtSequence(key: string, expectedVersion: number, build: (seq: number) => string): Promise<{ record: StoredRecord; seq: number } | null> {
    return this.#records.setAtSequence(key, expectedVersion, build);
  }

  async deleteRecord(key: string, opts?: { expectedVersion?: number }): Promise<boolean> {
    return this.#records.delete(key, opts?.expectedVersion);
  }

  async listRecords(prefix: string): Promise<StoredRecord[]> {
    return this.#records.list(prefix);
  }

  watch(listener: (event: BucketEvent) => void): () => void {
    return this.#listener.add(listener);
  }

  /** Resolves once the LISTEN connection is up (after a first watch()); for tests. */
  async listening(): Promise<void> {
    await this.#listener.ready();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#listener.close();
    await this.#db.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export type PostgresBucket = Bucket & { listening(): Promise<void> };

/**
 * Open (creating the schema and tables if needed) a bucket in a PostgreSQL database. Connection problems
 * reject with a clear message that never includes the password.
 */
export async function openPostgresBucket(url: string, opts: PostgresBucketOptions = {}): Promise<PostgresBucket> {
  const requestedPartitions = validatePartitions(opts.partitions ?? DEFAULT_PG_PARTITIONS);
  const poolSize = opts.poolSize ?? DEFAULT_PG_POOL_SIZE;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new RangeError(`poolSize must be a positive integer, got ${poolSize}`);
  const schema = opts.schema ?? 'public';
  const names = new SchemaNames(schema, int4Key(`syncline-bucket:${schema}`));
  const config: pg.ClientConfig = {
    connectionString: url,
    types: PG_TYPES,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    application_name: 'syncline',
  };
  const db = new PgDb(config, poolSize);
  try {
    // A first plain connection, so that an unreachable server or bad credentials get a clear message.
    try {
      const client = await db.pool.connect();
      client.release();
    } catch (err) {
      const message = describeConnectError(err, db.info);
      throw isConnectionError(err) ? unavailable(message) : new Error(message);
    }
    await applyPgMigrations(db, { names, requestedPartitions });
    const partitions = await storedPartitions(db, names);
    return new PgBucket(db, names, partitions);
  } catch (err) {
    await db.end().catch(() => {});
    throw err;
  }
}
