import type Database from 'better-sqlite3';
import { badRequest } from '../../base/errors.ts';
import { DEFAULT_COLLECTION } from '../bucket.ts';
import { triggersDdl } from './triggers.ts';

type Db = Database.Database;

/** Physical tables of one collection. The documents table name is a public contract for server apps. */
export interface CollectionTables {
  documents: string;
  meta: string;
  changes: string;
  changeChannels: string;
  mutations: string;
  grants: string;
}

const NAME_PART = /^[A-Za-z0-9_%-]{1,251}$/;

/** Quote an SQL identifier. */
export const q = (ident: string): string => `"${ident.replaceAll('"', '""')}"`;

/** "coll" means "_default.coll"; returns the canonical "scope.collection" or throws badRequest. */
export function normalizeCollectionName(name: string = DEFAULT_COLLECTION): string {
  const parts = name.split('.');
  if (parts.length === 1) parts.unshift('_default');
  if (parts.length !== 2 || !parts.every((part) => NAME_PART.test(part))) {
    throw badRequest(`Invalid collection name "${name}": expected "scope.collection" made of [A-Za-z0-9_%-]`);
  }
  return parts.join('.');
}

export function collectionTables(canonicalName: string): CollectionTables {
  const suffix = canonicalName === DEFAULT_COLLECTION ? '' : `_${canonicalName.replace('.', '_')}`;
  return {
    documents: `documents${suffix}`,
    meta: `sync_meta${suffix}`,
    changes: `changes${suffix}`,
    changeChannels: `change_channels${suffix}`,
    mutations: `mutations${suffix}`,
    grants: `grants${suffix}`,
  };
}

/** Live (not tombstoned) metadata rows per collection, kept by the commit and purge transactions. */
export const LIVE_COUNTS_DDL = 'CREATE TABLE IF NOT EXISTS live_counts (collection TEXT PRIMARY KEY, live INTEGER NOT NULL);';

/** Sets a collection's live count from its metadata table; `onlyIfMissing` keeps an existing count. */
export function countLiveDocuments(db: Db, canonicalName: string, onlyIfMissing: boolean): void {
  const count = `(SELECT count(*) FROM ${q(collectionTables(canonicalName).meta)} WHERE deleted = 0)`;
  if (onlyIfMissing) {
    db.prepare(
      `INSERT INTO live_counts (collection, live) SELECT ?, ${count}
       WHERE NOT EXISTS (SELECT 1 FROM live_counts WHERE collection = ?)`,
    ).run(canonicalName, canonicalName);
  } else {
    db.prepare(`INSERT OR REPLACE INTO live_counts (collection, live) VALUES (?, ${count})`).run(canonicalName);
  }
}

/** Bucket-wide tables (everything but the per-collection ones). */
export const BUCKET_DDL = `
CREATE TABLE IF NOT EXISTS bucket_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  cas INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO counters (id, cas, seq) VALUES (1, 0, 0);
CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, documents_table TEXT NOT NULL);
${LIVE_COUNTS_DDL}
CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  version INTEGER NOT NULL,
  expires_at INTEGER
);
`;

/**
 * Tables and indexes of one collection (current shape; idempotent), followed by its triggers (triggers.ts).
 */
export function collectionDdl(t: CollectionTables, partitions: number): string {
  const docs = q(t.documents);
  return `
CREATE TABLE IF NOT EXISTS ${docs} (id TEXT PRIMARY KEY, body TEXT NOT NULL, cas INTEGER);
CREATE TABLE IF NOT EXISTS ${q(t.mutations)} (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  "partition" INTEGER NOT NULL,
  doc_id TEXT NOT NULL,
  cas INTEGER,
  op TEXT NOT NULL,
  at INTEGER
);
${partitions > 1 ? `CREATE INDEX IF NOT EXISTS ${q(`${t.mutations}_by_partition`)} ON ${q(t.mutations)} ("partition", position);` : ''}
CREATE TABLE IF NOT EXISTS ${q(t.meta)} (
  id TEXT PRIMARY KEY,
  meta TEXT NOT NULL,
  cas INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL
);
${tombstoneIndexDdl(t)}
CREATE TABLE IF NOT EXISTS ${q(t.changes)} (
  seq INTEGER PRIMARY KEY,
  doc_id TEXT NOT NULL,
  rev TEXT,
  deleted INTEGER,
  channels TEXT,
  removed TEXT
);
CREATE TABLE IF NOT EXISTS ${q(t.changeChannels)} (
  channel TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (channel, seq)
) WITHOUT ROWID;
${grantsDdl(t)}
${triggersDdl(t, partitions)}
`;
}

/** Partial index of the metadata rows whose winning revision is a tombstone, for listing them (purging). */
export function tombstoneIndexDdl(t: CollectionTables): string {
  return `CREATE INDEX IF NOT EXISTS ${q(`${t.meta}_tombstones`)} ON ${q(t.meta)} (id) WHERE deleted = 1;`;
}

/** Access grants made by documents, one row per (grantee, kind, item, document). */
export function grantsDdl(t: CollectionTables): string {
  return `
CREATE TABLE IF NOT EXISTS ${q(t.grants)} (
  grantee TEXT NOT NULL,
  kind TEXT NOT NULL,
  item TEXT NOT NULL,
  doc_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  revoked_seq INTEGER,
  PRIMARY KEY (grantee, kind, item, doc_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ${q(`${t.grants}_by_doc`)} ON ${q(t.grants)} (doc_id);`;
}

/** Create (if missing) and register the tables of a collection; rejects names whose tables would collide. */
export function ensureCollectionTables(db: Db, canonicalName: string, partitions: number): CollectionTables {
  const tables = collectionTables(canonicalName);
  // SQLite table names are case-insensitive and "a_b.c" / "a.b_c" share a suffix: refuse such collisions.
  const clash = db
    .prepare<[string, string], { name: string }>(
      'SELECT name FROM collections WHERE lower(documents_table) = lower(?) AND name <> ?',
    )
    .get(tables.documents, canonicalName);
  if (clash) {
    throw badRequest(`Collection "${canonicalName}" would share tables with existing collection "${clash.name}"`);
  }
  db.exec(collectionDdl(tables, partitions));
  db.prepare('INSERT OR IGNORE INTO collections (name, documents_table) VALUES (?, ?)').run(
    canonicalName,
    tables.documents,
  );
  countLiveDocuments(db, canonicalName, true);
  return tables;
}
