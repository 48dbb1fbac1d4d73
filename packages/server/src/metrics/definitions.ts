import type { DatabaseSnapshot, ReplicationSnapshot, ServerSnapshot } from './snapshot.ts';

/**
 * The statistics Syncline publishes, one table for both outputs: `/_expvar` nests each value as
 * `syncgateway.per_db.<db>.<subsystem>.<key>` (or `syncgateway.global.<subsystem>.<key>`), and `/_metrics` names
 * it `<namespace>_<subsystem>_<key>`, with a `database` label for per-database ones. Sync Gateway's names
 * (namespace `sgw`) are used where Syncline measures the same thing; `syncline` marks figures of its own.
 * Times are in nanoseconds, as in Sync Gateway.
 */
export interface StatDefinition<S> {
  namespace: 'sgw' | 'syncline';
  subsystem: string;
  key: string;
  type: 'counter' | 'gauge';
  help: string;
  /** The value, or undefined when the statistic does not apply (for example import stats when import is off). */
  value: (snapshot: S) => number | undefined;
}

export type StatName = Pick<StatDefinition<unknown>, 'namespace' | 'subsystem' | 'key' | 'type' | 'help'>;

export const metricName = (d: StatName): string => `${d.namespace}_${d.subsystem}_${d.key}`;

type DbStat = StatDefinition<DatabaseSnapshot>;

const database = (key: string, type: DbStat['type'], help: string, value: DbStat['value'], namespace: DbStat['namespace'] = 'sgw'): DbStat => ({
  namespace,
  subsystem: 'database',
  key,
  type,
  help,
  value,
});
const security = (key: string, type: DbStat['type'], help: string, value: DbStat['value']): DbStat => ({ namespace: 'sgw', subsystem: 'security', key, type, help, value });
const pull = (key: string, type: DbStat['type'], help: string, value: DbStat['value']): DbStat => ({ namespace: 'sgw', subsystem: 'cbl_replication_pull', key, type, help, value });
const imports = (key: string, type: DbStat['type'], help: string, value: (i: NonNullable<DatabaseSnapshot['import']>) => number, namespace: DbStat['namespace'] = 'sgw'): DbStat => ({
  namespace,
  subsystem: 'shared_bucket_import',
  key,
  type,
  help,
  value: (db) => (db.import ? value(db.import) : undefined),
});

export const DATABASE_STATS: readonly DbStat[] = [
  database('num_doc_writes', 'counter', 'Revisions written through the REST API (writes and replication pushes; imports are counted by sgw_shared_bucket_import_import_count).', (db) => db.stats.docWrites),
  database('doc_writes_bytes', 'counter', 'Bytes of the JSON bodies of the revisions counted by sgw_database_num_doc_writes.', (db) => db.stats.docWritesBytes),
  database('num_doc_reads_rest', 'counter', 'Revisions sent through the REST API: document GETs, open_revs, _bulk_get, and include_docs of _changes and _all_docs.', (db) => db.stats.docReads),
  database('num_replications_active', 'gauge', '_changes feeds in progress.', (db) => db.stats.pullActiveOneShot + db.stats.pullActiveContinuous),
  database('num_replications_total', 'counter', '_changes feeds started.', (db) => db.stats.pullTotalOneShot + db.stats.pullTotalContinuous),
  database('changes_feed_waiters', 'gauge', 'Change feeds (longpoll, continuous, BLIP subChanges) waiting for a new sequence.', (db) => db.changesWaiters, 'syncline'),
  database('blip_connections_active', 'gauge', 'Couchbase Lite replication (BLIP WebSocket) connections open.', (db) => db.stats.blipActive, 'syncline'),
  database('blip_connections_total', 'counter', 'Couchbase Lite replication (BLIP WebSocket) connections opened.', (db) => db.stats.blipTotal, 'syncline'),
  database('sync_function_count', 'counter', 'Sync function runs (writes, replication pushes, imports, resync).', (db) => db.stats.syncFunctionCount),
  database('sync_function_time', 'counter', 'Time spent running the sync function, in nanoseconds.', (db) => db.stats.syncFunctionTimeNs),
  database('sync_function_exception_count', 'counter', 'Sync function runs that failed: an exception, a time-out or an invalid result.', (db) => db.stats.syncFunctionExceptions),
  database('sync_function_reject_count', 'counter', 'Revisions the sync function rejected (throw({forbidden}), a failed require* call).', (db) => db.stats.syncFunctionRejects),
  database('high_seq_feed', 'gauge', 'Highest sequence announced to the change feeds.', (db) => db.highSeqFeed),
  database('last_sequence', 'gauge', 'Latest sequence allocated in storage.', (db) => db.lastSequence, 'syncline'),
  database('doc_count', 'gauge', 'Live (not deleted) documents.', (db) => db.docCount, 'syncline'),
  security('auth_success_count', 'counter', 'Public-API requests authenticated (a user, a session or GUEST).', (db) => db.stats.authSuccess),
  security('auth_failed_count', 'counter', 'Public-API requests refused authentication.', (db) => db.stats.authFailed),
  security('total_auth_time', 'counter', 'Time spent authenticating public-API requests, in nanoseconds.', (db) => db.stats.authTimeNs),
  pull('num_pull_repl_active_one_shot', 'gauge', 'One-shot (feed=normal) _changes requests in progress.', (db) => db.stats.pullActiveOneShot),
  pull('num_pull_repl_total_one_shot', 'counter', 'One-shot (feed=normal) _changes requests started.', (db) => db.stats.pullTotalOneShot),
  pull('num_pull_repl_active_continuous', 'gauge', 'Longpoll and continuous _changes feeds in progress.', (db) => db.stats.pullActiveContinuous),
  pull('num_pull_repl_total_continuous', 'counter', 'Longpoll and continuous _changes feeds started.', (db) => db.stats.pullTotalContinuous),
  pull('num_pull_repl_since_zero', 'counter', '_changes feeds started from the beginning (since=0).', (db) => db.stats.pullSinceZero),
  imports('import_count', 'counter', 'Direct writes imported as new revisions.', (i) => i.imported),
  imports('import_error_count', 'counter', 'Direct writes that could not be imported (invalid body, rejected by the sync function, errors).', (i) => i.failed),
  imports('import_cancel_cas', 'counter', 'Imports abandoned because the document changed again meanwhile (then retried).', (i) => i.casCancelled),
  imports('import_processing_time', 'counter', 'Time spent importing, in nanoseconds.', (i) => Math.round(i.processingMs * 1e6)),
  imports('import_filtered_count', 'counter', 'Direct writes the import filter did not accept.', (i) => i.filtered, 'syncline'),
  imports('mutations_read', 'counter', 'Mutation-log entries examined by import (including the gateway\'s own writes).', (i) => i.mutationsRead, 'syncline'),
  imports('import_lag_seconds', 'gauge', 'Age of the oldest direct write not yet imported, in seconds (0 when caught up).', (i) => i.lagMs / 1000, 'syncline'),
  imports('import_partitions_held', 'gauge', 'Import partitions this node holds the lease of (imports).', (i) => i.partitionsHeld, 'syncline'),
  imports('import_lag_ms', 'gauge', 'Age of the oldest direct write not yet imported, in milliseconds (0 when caught up).', (i) => i.lagMs, 'syncline'),
];

type ReplicationStat = StatDefinition<ReplicationSnapshot>;

const replication = (key: string, type: ReplicationStat['type'], help: string, value: ReplicationStat['value'], namespace: ReplicationStat['namespace'] = 'sgw'): ReplicationStat => ({
  namespace,
  subsystem: 'replication',
  key,
  type,
  help,
  value,
});

/** Per server-to-server replication, on the node running it (labels `database` and `replication`). */
export const REPLICATION_STATS: readonly ReplicationStat[] = [
  replication('sgr_active', 'gauge', 'Whether the replication runs on this node (1: running, starting or reconnecting).', (r) => r.active, 'syncline'),
  replication('sgr_num_docs_pushed', 'counter', 'Revisions pushed to the remote.', (r) => r.pushed),
  replication('sgr_num_docs_pulled', 'counter', 'Revisions pulled from the remote.', (r) => r.pulled, 'syncline'),
  replication('sgr_num_docs_failed', 'counter', 'Revisions that failed either way (refused by a sync function, missing...).', (r) => r.failed, 'syncline'),
  replication('sgr_push_conflict_count', 'counter', 'Pushes the remote refused as conflicts.', (r) => r.conflicts, 'syncline'),
  replication('sgr_num_docs_purged', 'counter', 'Local documents purged because the remote revoked or removed them.', (r) => r.purged, 'syncline'),
  replication('sgr_conflict_resolved_count', 'counter', 'Conflicts resolved locally by the conflict policy.', (r) => r.resolved, 'syncline'),
];

type GlobalStat = StatDefinition<ServerSnapshot>;

const resource = (key: string, type: GlobalStat['type'], help: string, value: GlobalStat['value']): GlobalStat => ({
  namespace: 'sgw',
  subsystem: 'resource_utilization',
  key,
  type,
  help,
  value,
});

export const GLOBAL_STATS: readonly GlobalStat[] = [
  resource('process_memory_resident', 'gauge', 'Resident set size of the process, in bytes.', (s) => s.processMemoryResident),
  resource('system_memory_total', 'gauge', 'Memory of the machine, in bytes.', (s) => s.systemMemoryTotal),
  resource('uptime', 'counter', 'Time since the server started, in nanoseconds.', (s) => s.uptimeNs),
];
