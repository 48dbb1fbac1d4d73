import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Bucket, BucketEvent, Collection, RecordWriteOptions, StoredRecord } from '../bucket.ts';
import { BucketEventHub } from '../bucket-events.ts';
import { SqliteBlobs } from './blobs.ts';
import { applyMigrations, storedPartitions } from './migrations.ts';
import { DEFAULT_PARTITIONS, validatePartitions } from './partition.ts';
import { SqliteRecords } from './records.ts';
import { ensureCollectionTables, normalizeCollectionName } from './schema.ts';
import { SqliteCollection } from './sqlite-collection.ts';

export const SQLITE_MEMORY = ':memory:';
const BUSY_TIMEOUT_MS = 5000;

export interface SqliteBucketOptions {
  /** Mutation-log partitions when the bucket is created; an existing bucket keeps its stored count. */
  partitions?: number;
}

class SqliteBucket implements Bucket {
  readonly engine = 'sqlite';
  readonly partitions: number;
  readonly #db: Database.Database;
  readonly #collections = new Map<string, SqliteCollection>();
  readonly #blobs: SqliteBlobs;
  readonly #records: SqliteRecords;
  readonly #lastSequence;
  readonly #ensureCollection;
  /** One process serves an SQLite file: the events are this process's own writes. */
  readonly #events = new BucketEventHub();

  constructor(db: Database.Database) {
    this.#db = db;
    this.partitions = storedPartitions(db);
    this.#blobs = new SqliteBlobs(db);
    this.#records = new SqliteRecords(db);
    this.#lastSequence = db.prepare<[], number>('SELECT seq FROM counters').pluck();
    this.#ensureCollection = db.transaction((name: string) => ensureCollectionTables(db, name, this.partitions));
  }

  async collection(name?: string): Promise<Collection> {
    const canonical = normalizeCollectionName(name);
    let collection = this.#collections.get(canonical);
    if (!collection) {
      const tables = this.#ensureCollection.immediate(canonical);
      collection = new SqliteCollection(this.#db, canonical, tables, this.partitions, (seq) => this.#events.emit({ kind: 'sequence', seq }));
      this.#collections.set(canonical, collection);
    }
    return collection;
  }

  async lastSequence(): Promise<number> {
    return this.#lastSequence.get() ?? 0;
  }

  async putBlob(digest: string, data: Uint8Array): Promise<void> {
    this.#blobs.put(digest, data);
  }

  async getBlob(digest: string): Promise<Uint8Array | null> {
    return this.#blobs.get(digest);
  }

  async hasBlob(digest: string): Promise<boolean> {
    return this.#blobs.has(digest);
  }

  async deleteBlob(digest: string): Promise<void> {
    this.#blobs.delete(digest);
  }

  async listBlobDigests(): Promise<string[]> {
    return this.#blobs.list();
  }

  async getRecord(key: string): Promise<StoredRecord | null> {
    return this.#records.get(key);
  }

  async setRecord(key: string, value: string, opts?: RecordWriteOptions): Promise<StoredRecord | null> {
    const record = this.#records.set(key, value, opts);
    if (record) this.#emit({ kind: 'record', key });
    return record;
  }

  async setRecordAtSequence(key: string, expectedVersion: number, build: (seq: number) => string): Promise<{ record: StoredRecord; seq: number } | null> {
    const result = this.#records.setAtSequence(key, expectedVersion, build);
    if (result) {
      this.#emit({ kind: 'record', key });
      this.#emit({ kind: 'sequence', seq: result.seq });
    }
    return result;
  }

  async deleteRecord(key: string, opts?: { expectedVersion?: number }): Promise<boolean> {
    const deleted = this.#records.delete(key, opts);
    if (deleted) this.#emit({ kind: 'record', key });
    return deleted;
  }

  async listRecords(prefix: string): Promise<StoredRecord[]> {
    return this.#records.list(prefix);
  }

  watch(listener: (event: BucketEvent) => void): () => void {
    return this.#events.listen(listener);
  }

  #emit(event: BucketEvent): void {
    if (this.#events.size > 0) this.#events.emit(event);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Connection settings of every bucket connection. */
export function configureConnection(db: Database.Database): void {
  // Another process (a server app) may hold the write lock for a moment: wait instead of failing.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  // FULL: the WAL is synced on every commit, so an acknowledged write survives power loss.
  db.pragma('synchronous = FULL');
  // A 32 MiB page cache (the default is 2 MiB) keeps the indexes touched by every commit in memory.
  db.pragma('cache_size = -32768');
  // The cas-stamping triggers update the row they fire for; recursion must stay off.
  db.pragma('recursive_triggers = OFF');
}

/** Open (creating if needed) a SQLite bucket file, or an in-memory one for ":memory:". */
export async function openSqliteBucket(path: string, opts: SqliteBucketOptions = {}): Promise<Bucket> {
  const requestedPartitions = validatePartitions(opts.partitions ?? DEFAULT_PARTITIONS);
  if (path !== SQLITE_MEMORY) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    configureConnection(db);
    applyMigrations(db, { requestedPartitions });
    return new SqliteBucket(db);
  } catch (err) {
    db.close();
    throw err;
  }
}
