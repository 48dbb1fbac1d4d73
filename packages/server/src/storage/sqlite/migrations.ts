import type Database from 'better-sqlite3';
import { DEFAULT_COLLECTION } from '../bucket.ts';
import { BUCKET_DDL, collectionTables, countLiveDocuments, ensureCollectionTables, grantsDdl, LIVE_COUNTS_DDL, q, tombstoneIndexDdl } from './schema.ts';
import { replaceTriggers } from './triggers.ts';

type Db = Database.Database;

export interface MigrationContext {
  /** Partition count requested by the opener; only used when the bucket is created. */
  requestedPartitions: number;
}

export interface Migration {
  /** "YYYYMMDD_NNNN_name"; applied in list order, each at most once. */
  id: string;
  up(db: Db, ctx: MigrationContext): void;
}

/**
 * Ordered, append-only. Later migrations that reshape collection tables must iterate over the `collections`
 * registry and stay idempotent, because ensureCollectionTables always creates the current shape.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: '20261123_0001_init',
    up(db, ctx) {
      db.exec(BUCKET_DDL);
      db.prepare(`INSERT OR IGNORE INTO bucket_info (key, value) VALUES ('partitions', ?)`).run(
        String(ctx.requestedPartitions),
      );
      ensureCollectionTables(db, DEFAULT_COLLECTION, ctx.requestedPartitions);
    },
  },
  {
    id: '20261124_0002_live_counts',
    up(db) {
      db.exec(LIVE_COUNTS_DDL);
      const names = db.prepare<[], string>('SELECT name FROM collections').pluck().all();
      for (const name of names) countLiveDocuments(db, name, false);
    },
  },
  {
    id: '20261124_0003_cas_triggers',
    up(db) {
      const partitions = storedPartitions(db);
      const names = db.prepare<[], string>('SELECT name FROM collections').pluck().all();
      for (const name of names) replaceTriggers(db, collectionTables(name), partitions);
    },
  },
  {
    id: '20261124_0004_grants',
    up(db) {
      const names = db.prepare<[], string>('SELECT name FROM collections').pluck().all();
      for (const name of names) db.exec(grantsDdl(collectionTables(name)));
    },
  },
  {
    id: '20261125_0005_mutation_times',
    up(db) {
      const partitions = storedPartitions(db);
      const names = db.prepare<[], string>('SELECT name FROM collections').pluck().all();
      for (const name of names) {
        const t = collectionTables(name);
        const columns = db.prepare<[], { name: string }>(`PRAGMA table_info(${q(t.mutations)})`).all();
        if (!columns.some((c) => c.name === 'at')) db.exec(`ALTER TABLE ${q(t.mutations)} ADD COLUMN at INTEGER`);
        replaceTriggers(db, t, partitions);
      }
    },
  },
  {
    id: '20261126_0006_tombstone_index',
    up(db) {
      const names = db.prepare<[], string>('SELECT name FROM collections').pluck().all();
      for (const name of names) db.exec(tombstoneIndexDdl(collectionTables(name)));
    },
  },
];

/** Apply missing migrations in one IMMEDIATE transaction (safe against concurrent openers); returns applied ids. */
export function applyMigrations(db: Db, ctx: MigrationContext): string[] {
  const run = db.transaction((): string[] => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const done = new Set(
      db.prepare<[], string>('SELECT id FROM schema_migrations').pluck().all(),
    );
    const record = db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
    const applied: string[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.id)) continue;
      migration.up(db, ctx);
      record.run(migration.id, Date.now());
      applied.push(migration.id);
    }
    return applied;
  });
  return run.immediate();
}

/** The partition count stored in the bucket (fixed at creation). */
export function storedPartitions(db: Db): number {
  const value = db
    .prepare<[], string>(`SELECT value FROM bucket_info WHERE key = 'partitions'`)
    .pluck()
    .get();
  const partitions = Number(value);
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`Corrupt partition count in bucket: ${value}`);
  return partitions;
}
