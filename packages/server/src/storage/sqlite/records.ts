import type Database from 'better-sqlite3';
import type { RecordWriteOptions, StoredRecord } from '../bucket.ts';

type Db = Database.Database;

interface RecordRow {
  key: string;
  value: string;
  version: number;
  expires_at: number | null;
}

const toRecord = (row: RecordRow): StoredRecord => ({
  key: row.key,
  value: row.value,
  version: row.version,
  expiresAt: row.expires_at,
});

const isLive = (row: RecordRow | undefined, now: number): row is RecordRow =>
  row !== undefined && (row.expires_at === null || row.expires_at > now);

/** Smallest string greater than every string starting with prefix (code point order), or null if none. */
export function prefixUpperBound(prefix: string): string | null {
  const cps = Array.from(prefix, (ch) => ch.codePointAt(0) ?? 0);
  while (cps.length > 0) {
    const last = cps.pop() ?? 0;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return String.fromCodePoint(...cps, next);
    }
  }
  return null;
}

/** Small key/value records with version compare-and-set and optional expiry. */
export class SqliteRecords {
  readonly #select;
  readonly #upsert;
  readonly #delete;
  readonly #listFrom;
  readonly #listRange;
  readonly #setTx;
  readonly #deleteTx;
  readonly #db: Db;
  readonly #sequencedTx;

  constructor(db: Db) {
    this.#db = db;
    this.#select = db.prepare<[string], RecordRow>('SELECT key, value, version, expires_at FROM records WHERE key = ?');
    this.#upsert = db.prepare<[string, string, number, number | null]>(
      `INSERT INTO records (key, value, version, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version,
         expires_at = excluded.expires_at`,
    );
    this.#delete = db.prepare<[string]>('DELETE FROM records WHERE key = ?');
    const live = '(expires_at IS NULL OR expires_at > ?)';
    this.#listFrom = db.prepare<[string, number], RecordRow>(
      `SELECT key, value, version, expires_at FROM records WHERE key >= ? AND ${live} ORDER BY key`,
    );
    this.#listRange = db.prepare<[string, string, number], RecordRow>(
      `SELECT key, value, version, expires_at FROM records WHERE key >= ? AND key < ? AND ${live} ORDER BY key`,
    );
    this.#setTx = db.transaction(
      (key: string, value: string, expectedVersion: number | undefined, ttlMs: number | undefined) => {
        const now = Date.now();
        const row = this.#select.get(key);
        const current = isLive(row, now) ? row.version : 0;
        if (expectedVersion !== undefined && expectedVersion !== current) return null;
        // Versions keep growing across expiry so that a stale holder of an expired record cannot win a CAS.
        const version = (row?.version ?? 0) + 1;
        const expiresAt = ttlMs === undefined ? null : now + ttlMs;
        this.#upsert.run(key, value, version, expiresAt);
        return { key, value, version, expiresAt };
      },
    );
    const nextSeq = db.prepare<[], number>('UPDATE counters SET seq = seq + 1 RETURNING seq').pluck();
    this.#sequencedTx = db.transaction((key: string, expectedVersion: number, build: (seq: number) => string) => {
      const now = Date.now();
      const row = this.#select.get(key);
      const current = isLive(row, now) ? row.version : 0;
      if (expectedVersion !== current) return null;
      const seq = nextSeq.get();
      if (seq === undefined) throw new Error('counters row is missing');
      const value = build(seq);
      const version = (row?.version ?? 0) + 1;
      this.#upsert.run(key, value, version, null);
      return { record: { key, value, version, expiresAt: null }, seq };
    });
    this.#deleteTx = db.transaction((key: string, expectedVersion: number | undefined) => {
      const row = this.#select.get(key);
      if (!isLive(row, Date.now())) {
        if (row) this.#delete.run(key);
        return false;
      }
      if (expectedVersion !== undefined && expectedVersion !== row.version) return false;
      this.#delete.run(key);
      return true;
    });
  }

  get(key: string): StoredRecord | null {
    const row = this.#select.get(key);
    return isLive(row, Date.now()) ? toRecord(row) : null;
  }

  set(key: string, value: string, opts: RecordWriteOptions = {}): StoredRecord | null {
    if (opts.durable !== false) return this.#setTx.immediate(key, value, opts.expectedVersion, opts.ttlMs);
    // In WAL mode a NORMAL commit skips the fsync; the next FULL commit or checkpoint makes it durable.
    this.#db.pragma('synchronous = NORMAL');
    try {
      return this.#setTx.immediate(key, value, opts.expectedVersion, opts.ttlMs);
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  setAtSequence(key: string, expectedVersion: number, build: (seq: number) => string): { record: StoredRecord; seq: number } | null {
    return this.#sequencedTx.immediate(key, expectedVersion, build);
  }

  delete(key: string, opts: { expectedVersion?: number } = {}): boolean {
    return this.#deleteTx.immediate(key, opts.expectedVersion);
  }

  list(prefix: string): StoredRecord[] {
    const now = Date.now();
    const upper = prefixUpperBound(prefix);
    const rows = upper === null ? this.#listFrom.all(prefix, now) : this.#listRange.all(prefix, upper, now);
    return rows.filter((row) => row.key.startsWith(prefix)).map(toRecord);
  }
}
