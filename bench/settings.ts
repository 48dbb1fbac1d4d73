import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');

export type WorkloadId = 'put' | 'bulk' | 'pull' | 'push' | 'access' | 'import' | 'blip' | 'blobs' | 'postgres' | 'replication';
export type TargetId = 'syncline' | 'pouchdb' | 'sqlite';

export const ALL_WORKLOADS: readonly WorkloadId[] = ['put', 'bulk', 'pull', 'push', 'access', 'import', 'blip', 'blobs', 'postgres', 'replication'];
export const ALL_TARGETS: readonly TargetId[] = ['syncline', 'pouchdb', 'sqlite'];

export const TARGET_LABELS: Record<TargetId, string> = {
  syncline: 'Syncline',
  pouchdb: 'PouchDB Server',
  sqlite: 'raw SQLite',
};

export interface Settings {
  scale: number;
  /** Each workload runs this many times per target; the report shows the median. */
  rounds: number;
  seed: number;
  batchSize: number;
  counts: Record<Exclude<WorkloadId, 'access' | 'import' | 'blip' | 'blobs' | 'postgres' | 'replication'>, number>;
  /** The Syncline-only access-control section (bench/workloads/access-control.ts). */
  access: AccessSettings;
  /** The Syncline-only import section (bench/workloads/import.ts). */
  import: ImportSettings;
  /** The Syncline-only BLIP replication section (bench/workloads/blip.ts). */
  blip: BlipSettings;
  /** The Syncline-only section of docs with blobs (bench/workloads/blip-blobs.ts). */
  blobs: BlobsSettings;
  /** The Syncline-only PostgreSQL / cluster section (bench/workloads/postgres.ts). */
  postgres: PostgresSettings;
  /** The Syncline-only server-to-server replication section (bench/workloads/replication.ts). */
  replication: ReplicationSettings;
  workloads: readonly WorkloadId[];
  targets: readonly TargetId[];
  /** Use an already-running server instead of spawning one. */
  synclineUrl: string | undefined;
  /** Admin API of the external Syncline server (the access-control section needs it). */
  synclineAdminUrl: string | undefined;
  pouchdbUrl: string | undefined;
}

export interface AccessSettings {
  /** Docs written with `_bulk_docs` to each of the two sync-function databases. */
  bulkDocs: number;
  /** Docs written with single PUTs to each of them. */
  putDocs: number;
  /** Docs in the `_changes` database, spread evenly over `channels`. */
  feedDocs: number;
  channels: number;
  /** How many of the channels the restricted user can read. */
  userChannels: number;
}

export interface ImportSettings {
  /** Docs inserted with SQL (and, for the reference, with `_bulk_docs`) per round. */
  docs: number;
  /** Rows per app transaction in the throughput measurement. */
  transactionSize: number;
  /** Steady external write rate, docs/s. */
  steadyRate: number;
  /** Docs written at the steady rate (its duration is steadyDocs / steadyRate). */
  steadyDocs: number;
}

export interface BlipSettings {
  /** Docs pulled (BLIP and REST) and pushed per round. */
  docs: number;
  /** Docs PUT one at a time while a continuous BLIP pull runs. */
  liveDocs: number;
}

export interface BlobsSettings {
  /** Docs pulled (BLIP and REST) and pushed per round, each with one blob. */
  docs: number;
  /** Size of each doc's blob in bytes (not scaled). */
  blobBytes: number;
}

export interface PostgresSettings {
  /** Docs of the raw `pg` INSERT baseline and of `_bulk_docs` on one node. */
  bulkDocs: number;
  /** Rows per transaction of the raw baseline (as `_bulk_docs` batches). */
  rawTransactionSize: number;
  /** Docs inserted with SQL per import configuration (1 and 2 import nodes). */
  importDocs: number;
  /** Rows per app transaction in the import measurement. */
  transactionSize: number;
  /** Steady rate of single-row INSERTs in the latency measurement, docs/s. */
  latencyRate: number;
  /** Docs inserted one at a time in the latency measurement. */
  latencyDocs: number;
  /** `pool_size` of every node. */
  poolSize: number;
}

export interface ReplicationSettings {
  /** Docs written to node A, then replicated one-shot (push and pull), and written with `_bulk_docs` for the reference. */
  docs: number;
  /** Docs on both nodes before the partition; the partition's updates go to these. */
  sharedDocs: number;
  /** How long node B is cut off, seconds (60 x BENCH_SCALE, at least 5). */
  partitionSeconds: number;
  /** Steady write rate on each side during the partition, docs/s. */
  writeRate: number;
  /** One write in this many during the partition updates a shared doc; the others create new docs. */
  updateEvery: number;
}

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function pickList<T extends string>(name: string, all: readonly T[]): readonly T[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return all;
  const wanted = raw.split(',').map((s) => s.trim());
  for (const w of wanted) {
    if (!all.includes(w as T)) throw new Error(`${name}: unknown "${w}" (choose from ${all.join(', ')})`);
  }
  return all.filter((x) => wanted.includes(x));
}

function url(name: string): string | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const parsed = new URL(raw);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error(`${name} must point at a loopback address, got ${parsed.hostname}`);
  }
  return raw.replace(/\/+$/, '');
}

function accessSettings(bulkDocs: number, putDocs: number, feedDocs: number): AccessSettings {
  const channels = Math.min(1_000, feedDocs);
  return { bulkDocs, putDocs, feedDocs, channels, userChannels: Math.min(10, channels) };
}

export function loadSettings(): Settings {
  const scale = positiveNumber('BENCH_SCALE', 1);
  const count = (base: number): number => Math.max(1, Math.round(base * scale));
  return {
    scale,
    rounds: Math.max(1, Math.round(positiveNumber('BENCH_ROUNDS', 1))),
    seed: Math.floor(positiveNumber('BENCH_SEED', 42)),
    batchSize: 100,
    counts: { put: count(2_000), bulk: count(10_000), pull: count(10_000), push: count(10_000) },
    access: accessSettings(count(10_000), count(1_000), count(100_000)),
    import: { docs: count(10_000), transactionSize: 500, steadyRate: 2_000, steadyDocs: count(10_000) },
    blip: { docs: count(10_000), liveDocs: count(200) },
    blobs: { docs: count(200), blobBytes: 100 * 1024 },
    postgres: { bulkDocs: count(10_000), rawTransactionSize: 100, importDocs: count(20_000), transactionSize: 500, latencyRate: 200, latencyDocs: count(2_000), poolSize: 10 },
    replication: { docs: count(10_000), sharedDocs: count(1_000), partitionSeconds: Math.max(5, Math.round(60 * scale)), writeRate: 50, updateEvery: 5 },
    workloads: pickList('BENCH_WORKLOADS', ALL_WORKLOADS),
    targets: pickList('BENCH_TARGETS', ALL_TARGETS),
    synclineUrl: url('BENCH_SYNCLINE_URL'),
    synclineAdminUrl: url('BENCH_SYNCLINE_ADMIN_URL'),
    pouchdbUrl: url('BENCH_POUCHDB_URL'),
  };
}
