import { totalmem } from 'node:os';
import type { Database } from '../db/database.ts';
import type { DbStats } from '../db/db-stats.ts';
import type { ServerContext } from '../server-context.ts';

/** A database's import counters (ImportStats) as read at one moment. */
export interface ImportSnapshot {
  imported: number;
  filtered: number;
  failed: number;
  casCancelled: number;
  processingMs: number;
  mutationsRead: number;
  lagMs: number;
  /** Partitions this node imports (holds the lease of). */
  partitionsHeld: number;
}

/** What the metrics of one database are computed from, read at scrape time. */
export interface DatabaseSnapshot {
  name: string;
  stats: Readonly<Omit<DbStats, 'startPull' | 'syncFunctionRan' | 'blipConnected'>>;
  /** Null when this node does not import (shared bucket access off, or import_docs false). */
  import: ImportSnapshot | null;
  /** Latest sequence allocated in storage. */
  lastSequence: number;
  /** Latest sequence announced to the change feeds. */
  highSeqFeed: number;
  /** Live (not deleted) documents. */
  docCount: number;
  /** Change feeds (longpoll, continuous, BLIP subChanges) waiting for a new sequence. */
  changesWaiters: number;
  /** Server-to-server replications this node runs. */
  replications: ReplicationSnapshot[];
}

/** A replication's counters, from its status on the node that runs it. */
export interface ReplicationSnapshot {
  id: string;
  /** 1 while running (or reconnecting), 0 otherwise. */
  active: number;
  pushed: number;
  pulled: number;
  failed: number;
  conflicts: number;
  purged: number;
  resolved: number;
}

async function replicationSnapshots(db: Database): Promise<ReplicationSnapshot[]> {
  const statuses = await db.replications.statuses();
  return statuses
    .filter((s) => s.node === db.serverUuid)
    .map((s) => ({
      id: s.replication_id,
      active: s.status === 'running' || s.status === 'reconnecting' || s.status === 'starting' ? 1 : 0,
      pushed: s.docs_written,
      pulled: s.docs_read,
      failed: s.doc_write_failures,
      conflicts: s.doc_write_conflict,
      purged: s.docs_purged,
      resolved: s.conflicts_resolved,
    }));
}

export interface ServerSnapshot {
  /** Nanoseconds since the server started. */
  uptimeNs: number;
  /** Resident set size of the process, in bytes. */
  processMemoryResident: number;
  /** Memory of the machine, in bytes. */
  systemMemoryTotal: number;
  databases: DatabaseSnapshot[];
}

function importSnapshot(db: Database): ImportSnapshot | null {
  if (!db.sharedAccess || db.config.import_docs === false) return null;
  const s = db.importStats;
  return {
    imported: s.imported,
    filtered: s.filtered,
    failed: s.failed,
    casCancelled: s.casCancelled,
    processingMs: s.processingMs,
    mutationsRead: s.mutationsRead,
    lagMs: s.lagMs(),
    partitionsHeld: s.partitionsHeld,
  };
}

async function databaseSnapshot(db: Database): Promise<DatabaseSnapshot | null> {
  // A database being reconfigured or removed has a closed bucket: it is left out of this scrape.
  if (db.closed) return null;
  try {
    const [lastSequence, docCount, replications] = await Promise.all([db.bucket.lastSequence(), db.collection.countLive(), replicationSnapshots(db)]);
    return { name: db.name, stats: { ...db.stats }, import: importSnapshot(db), lastSequence, highSeqFeed: db.notifier.latest, docCount, changesWaiters: db.notifier.waiting, replications };
  } catch (err) {
    if (db.closed) return null;
    throw err;
  }
}

/** Reads every open database's counters and a few process figures. */
export async function takeSnapshot(context: ServerContext, startedAt: bigint): Promise<ServerSnapshot> {
  const dbs: Database[] = [];
  for (const name of context.databaseNames()) dbs.push(context.database(name));
  const databases = (await Promise.all(dbs.map(databaseSnapshot))).filter((d): d is DatabaseSnapshot => d !== null);
  return {
    uptimeNs: Number(process.hrtime.bigint() - startedAt),
    processMemoryResident: process.memoryUsage.rss(),
    systemMemoryTotal: totalmem(),
    databases,
  };
}
