import { DEFAULT_COLLECTION } from '../bucket.ts';
import { int4Key, type PgDb, type Queryable } from './pg-db.ts';
import { bucketDdl, ensureCollection, type SchemaNames } from './schema.ts';

export interface PgMigrationContext {
  names: SchemaNames;
  /** Partition count requested by the opener; only used when the bucket is created. */
  requestedPartitions: number;
}

export interface PgMigration {
  /** "YYYYMMDD_NNNN_name"; applied in list order, each at most once. */
  id: string;
  up(tx: Queryable, ctx: PgMigrationContext): Promise<void>;
}

/** Ordered, append-only. Later migrations that reshape collection tables must iterate over `collections`. */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    id: '20261127_0001_init',
    async up(tx, { names, requestedPartitions }) {
      await tx.query(bucketDdl(names));
      await tx.query(`INSERT INTO ${names.t('bucket_info')} (key, value) VALUES ('partitions', $1) ON CONFLICT DO NOTHING`, [
        String(requestedPartitions),
      ]);
      await ensureCollection(tx, names, DEFAULT_COLLECTION, await storedPartitions(tx, names));
    },
  },
];

/** Key of the transaction-level advisory lock serialising DDL on one schema (migrations, new collections). */
export const ddlLockKey = (schema: string): number => int4Key(`syncline-ddl:${schema}`);

/** Takes the schema's DDL lock in the current transaction. */
export async function lockDdl(tx: Queryable, names: SchemaNames): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [ddlLockKey(names.schema)]);
}

/**
 * Apply missing migrations in one transaction holding the schema's advisory lock, so that several nodes
 * starting at once apply each migration exactly once. Creates the schema if needed. Returns applied ids.
 */
export async function applyPgMigrations(db: PgDb, ctx: PgMigrationContext): Promise<string[]> {
  const { names } = ctx;
  return db.transaction(async (tx) => {
    await lockDdl(tx, names);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${names.qs}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${names.t('schema_migrations')} (id text PRIMARY KEY, applied_at bigint NOT NULL)`,
    );
    const done = new Set(
      (await tx.query<{ id: string }>(`SELECT id FROM ${names.t('schema_migrations')}`)).rows.map((r) => r.id),
    );
    const applied: string[] = [];
    for (const migration of PG_MIGRATIONS) {
      if (done.has(migration.id)) continue;
      await migration.up(tx, ctx);
      await tx.query(`INSERT INTO ${names.t('schema_migrations')} (id, applied_at) VALUES ($1, $2)`, [migration.id, Date.now()]);
      applied.push(migration.id);
    }
    return applied;
  });
}

/** The partition count stored in the bucket (fixed at creation). */
export async function storedPartitions(tx: Queryable, names: SchemaNames): Promise<number> {
  const { rows } = await tx.query<{ value: string }>(`SELECT value FROM ${names.t('bucket_info')} WHERE key = 'partitions'`);
  const value = rows[0]?.value;
  const partitions = Number(value);
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`Corrupt partition count in bucket: ${value}`);
  return partitions;
}
