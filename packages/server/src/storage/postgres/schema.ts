import { badRequest } from '../../base/errors.ts';
import { collectionTables, type CollectionTables } from '../sqlite/schema.ts';
import { digest, lit, MAX_IDENTIFIER_BYTES, q, type Queryable } from './pg-db.ts';

export { collectionTables, type CollectionTables };

/** Default number of mutation-log partitions of a PostgreSQL bucket (several nodes share the import work). */
export const DEFAULT_PG_PARTITIONS = 16;

/** Names of everything a bucket keeps in its schema, all schema-qualified and quoted. */
export class SchemaNames {
  readonly schema: string;
  /** Quoted schema name. */
  readonly qs: string;
  /** LISTEN/NOTIFY channel of the bucket (raw name, for pg_notify; quote with q() for LISTEN). */
  readonly channel: string;
  /** First key of the two-key advisory locks of the bucket. */
  readonly lockKey: number;

  constructor(schema: string, lockKey: number) {
    if (schema === '' || Buffer.byteLength(schema) > MAX_IDENTIFIER_BYTES || schema.includes('\u0000')) {
      throw badRequest(`Invalid PostgreSQL schema name: it must be 1 to ${MAX_IDENTIFIER_BYTES} bytes`);
    }
    this.schema = schema;
    this.qs = q(schema);
    const channel = `syncline_${schema}`;
    this.channel = Buffer.byteLength(channel) <= MAX_IDENTIFIER_BYTES ? channel : `syncline_${digest(schema).slice(0, 40)}`;
    this.lockKey = lockKey;
  }

  /** Schema-qualified, quoted name of a table, sequence or function. */
  t(name: string): string {
    return `${this.qs}.${q(name)}`;
  }
}

/** The partition hash of sqlite/partition.ts, in PL/pgSQL (PostgreSQL substr does not count from the end). */
function partitionFunctionDdl(n: SchemaNames): string {
  return `
CREATE OR REPLACE FUNCTION ${n.t('syncline_partition')}(id text, partitions integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  n integer := char_length(id);
  mid integer := (char_length(id) + 1) / 2;
  s bigint := char_length(id)::bigint * 131;
BEGIN
  IF n >= 1 THEN
    s := s + ascii(substr(id, 1, 1))::bigint * 31 + ascii(substr(id, n, 1))::bigint;
  END IF;
  IF mid >= 1 THEN s := s + ascii(substr(id, mid, 1))::bigint * 97; END IF;
  IF n >= 2 THEN s := s + ascii(substr(id, n - 1, 1))::bigint * 7; END IF;
  IF n >= 3 THEN s := s + ascii(substr(id, n - 2, 1))::bigint * 17; END IF;
  IF n >= 4 THEN s := s + ascii(substr(id, n - 3, 1))::bigint * 53; END IF;
  RETURN (s % partitions)::integer;
END
$fn$;`;
}

/** Epoch milliseconds of the database clock. */
export const NOW_MS = 'floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

/** Bucket-wide objects (migration 1). */
export function bucketDdl(n: SchemaNames): string {
  return `
CREATE TABLE ${n.t('bucket_info')} (key text COLLATE "C" PRIMARY KEY, value text NOT NULL);
CREATE TABLE ${n.t('counters')} (id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL);
INSERT INTO ${n.t('counters')} (id, seq) VALUES (1, 0);
CREATE SEQUENCE ${n.t('cas_seq')};
CREATE SEQUENCE ${n.t('mutation_position')};
CREATE TABLE ${n.t('collections')} (name text COLLATE "C" PRIMARY KEY, documents_table text NOT NULL);
CREATE TABLE ${n.t('live_counts')} (collection text COLLATE "C" PRIMARY KEY, live bigint NOT NULL);
CREATE TABLE ${n.t('blobs')} (digest text COLLATE "C" PRIMARY KEY, data bytea NOT NULL);
CREATE TABLE ${n.t('records')} (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL,
  version bigint NOT NULL,
  expires_at bigint
);
${partitionFunctionDdl(n)}
`;
}

/** Checks that every table of a collection fits PostgreSQL's identifier length (longer names would be cut). */
export function pgCollectionTables(canonicalName: string): CollectionTables {
  const tables = collectionTables(canonicalName);
  for (const name of Object.values(tables)) {
    if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES - 8) {
      throw badRequest(`Collection name "${canonicalName}" is too long for PostgreSQL table names`);
    }
  }
  return tables;
}

/** Tables, indexes and triggers of one collection (created once, when the collection is registered). */
export function collectionDdl(n: SchemaNames, t: CollectionTables, partitions: number): string {
  const docs = n.t(t.documents);
  const mutations = n.t(t.mutations);
  const suffix = digest(`${n.schema}.${t.documents}`).slice(0, 16);
  const stampFn = n.t(`syncline_stamp_${suffix}`);
  const logFn = n.t(`syncline_log_${suffix}`);
  const part = (expr: string): string => (partitions === 1 ? '0' : `${n.t('syncline_partition')}(${expr}, ${partitions})`);
  const log = (idExpr: string, casExpr: string, op: string): string =>
    `INSERT INTO ${mutations} ("partition", doc_id, cas, op, at) VALUES (${part(idExpr)}, ${idExpr}, ${casExpr}, '${op}', now_ms);`;
  return `
CREATE TABLE ${docs} (id text COLLATE "C" PRIMARY KEY, body jsonb NOT NULL, cas bigint);
CREATE TABLE ${mutations} (
  ord bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  position bigint,
  "partition" integer NOT NULL,
  doc_id text NOT NULL,
  cas bigint,
  op text NOT NULL,
  at bigint
);
CREATE INDEX ON ${mutations} ("partition", position);
CREATE INDEX ON ${mutations} ("partition") WHERE position IS NULL;
CREATE TABLE ${n.t(t.meta)} (
  id text COLLATE "C" PRIMARY KEY,
  meta text NOT NULL,
  cas bigint NOT NULL,
  seq bigint NOT NULL,
  deleted boolean NOT NULL
);
CREATE INDEX ON ${n.t(t.meta)} (id) WHERE deleted;
CREATE TABLE ${n.t(t.changes)} (
  seq bigint PRIMARY KEY,
  doc_id text NOT NULL,
  rev text,
  deleted boolean,
  channels text[] NOT NULL,
  removed text[] NOT NULL
);
CREATE TABLE ${n.t(t.changeChannels)} (
  channel text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (channel, seq)
);
CREATE TABLE ${n.t(t.grants)} (
  grantee text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL,
  item text COLLATE "C" NOT NULL,
  doc_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  revoked_seq bigint,
  PRIMARY KEY (grantee, kind, item, doc_id)
);
CREATE INDEX ON ${n.t(t.grants)} (doc_id);

CREATE FUNCTION ${stampFn}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.cas := nextval(${lit(n.t('cas_seq'))}::regclass);
  RETURN NEW;
END
$fn$;

CREATE FUNCTION ${logFn}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  now_ms bigint := ${NOW_MS};
BEGIN
  IF TG_OP = 'INSERT' THEN
    ${log('NEW.id', 'NEW.cas', 'insert')}
  ELSIF TG_OP = 'UPDATE' THEN
    IF OLD.id = NEW.id THEN
      ${log('NEW.id', 'NEW.cas', 'update')}
    ELSE
      ${log('NEW.id', 'NEW.cas', 'insert')}
      ${log('OLD.id', 'NULL', 'delete')}
    END IF;
  ELSE
    ${log('OLD.id', 'NULL', 'delete')}
  END IF;
  PERFORM pg_notify(${lit(n.channel)}, 'm');
  RETURN NULL;
END
$fn$;

CREATE TRIGGER syncline_stamp BEFORE INSERT OR UPDATE OF id, body ON ${docs}
  FOR EACH ROW EXECUTE FUNCTION ${stampFn}();
CREATE TRIGGER syncline_log AFTER INSERT OR UPDATE OF id, body OR DELETE ON ${docs}
  FOR EACH ROW EXECUTE FUNCTION ${logFn}();
`;
}

/** Create and register a collection's tables unless they exist; call with the bucket's DDL lock held. */
export async function ensureCollection(tx: Queryable, n: SchemaNames, canonicalName: string, partitions: number): Promise<CollectionTables> {
  const tables = pgCollectionTables(canonicalName);
  const existing = await tx.query<{ name: string }>(`SELECT name FROM ${n.t('collections')} WHERE name = $1`, [canonicalName]);
  if (existing.rows.length > 0) return tables;
  // Mirror SQLite, whose table names are case-insensitive: "a_b.c" / "a.b_c" or case variants would share tables.
  const clash = await tx.query<{ name: string }>(
    `SELECT name FROM ${n.t('collections')} WHERE lower(documents_table) = lower($1) AND name <> $2`,
    [tables.documents, canonicalName],
  );
  if (clash.rows[0]) {
    throw badRequest(`Collection "${canonicalName}" would share tables with existing collection "${clash.rows[0].name}"`);
  }
  await tx.query(collectionDdl(n, tables, partitions));
  await tx.query(`INSERT INTO ${n.t('collections')} (name, documents_table) VALUES ($1, $2)`, [canonicalName, tables.documents]);
  await tx.query(`INSERT INTO ${n.t('live_counts')} (collection, live) VALUES ($1, 0)`, [canonicalName]);
  return tables;
}
