import { describe, expect, it } from 'vitest';
import { createLogger } from '../base/logger.ts';
import { parseServerConfig } from '../config/load.ts';
import { DbStats } from '../db/db-stats.ts';
import { startServer } from '../server.ts';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { DATABASE_STATS, metricName } from './definitions.ts';
import { expvarJson } from './expvar.ts';
import { checkReadiness } from './readiness.ts';
import { requestLabels, routeMatched } from './registry.ts';
import type { DatabaseSnapshot, ServerSnapshot } from './snapshot.ts';

function dbSnapshot(name: string, withImport: boolean): DatabaseSnapshot {
  const stats = new DbStats();
  stats.docWrites = 4;
  stats.docWritesBytes = 120;
  stats.docReads = 7;
  stats.authSuccess = 9;
  stats.authFailed = 2;
  stats.authTimeNs = 5000;
  stats.startPull(true, true); // still running
  stats.startPull(false, false)(); // ended
  stats.syncFunctionRan(process.hrtime.bigint(), undefined);
  stats.syncFunctionRan(process.hrtime.bigint(), 403);
  stats.syncFunctionRan(process.hrtime.bigint(), 500);
  const closed = stats.blipConnected();
  stats.blipConnected(); // still open
  closed();
  closed(); // counted once
  return {
    name,
    stats,
    import: withImport ? { imported: 3, filtered: 1, failed: 2, casCancelled: 1, processingMs: 1.5, mutationsRead: 10, lagMs: 2500, partitionsHeld: 4 } : null,
    lastSequence: 12,
    highSeqFeed: 12,
    docCount: 5,
    changesWaiters: 3,
    replications: withImport ? [{ id: 'to-cloud', active: 1, pushed: 6, pulled: 2, failed: 1, conflicts: 1, purged: 0, resolved: 1 }] : [],
  };
}

const snapshot: ServerSnapshot = {
  uptimeNs: 1e9,
  processMemoryResident: 1024,
  systemMemoryTotal: 4096,
  databases: [dbSnapshot('db', true), dbSnapshot('noimport', false)],
};

describe('expvar', () => {
  it('has Sync Gateway\'s shape: syncgateway.global and syncgateway.per_db.<db>.<subsystem>.<stat>', () => {
    const json = expvarJson(snapshot);
    expect(Object.keys(json)).toEqual(['syncgateway']);
    expect(json.syncgateway.global).toEqual({ resource_utilization: { process_memory_resident: 1024, system_memory_total: 4096, uptime: 1e9 } });
    expect(Object.keys(json.syncgateway.per_db)).toEqual(['db', 'noimport']);
    const db = json.syncgateway.per_db.db!;
    expect(Object.keys(db).sort()).toEqual(['cbl_replication_pull', 'database', 'security', 'shared_bucket_import']);
    expect(db.database).toMatchObject({ num_doc_writes: 4, doc_writes_bytes: 120, num_doc_reads_rest: 7, num_replications_active: 1, num_replications_total: 2, high_seq_feed: 12, doc_count: 5 });
    expect(db.security).toEqual({ auth_success_count: 9, auth_failed_count: 2, total_auth_time: 5000 });
    expect(db.cbl_replication_pull).toEqual({
      num_pull_repl_active_one_shot: 0,
      num_pull_repl_total_one_shot: 1,
      num_pull_repl_active_continuous: 1,
      num_pull_repl_total_continuous: 1,
      num_pull_repl_since_zero: 1,
    });
    expect(db.shared_bucket_import).toMatchObject({ import_count: 3, import_error_count: 2, import_cancel_cas: 1, import_processing_time: 1_500_000 });
    expect(db.shared_bucket_import).toMatchObject({ import_lag_seconds: 2.5, import_lag_ms: 2500, import_partitions_held: 4 });
    expect(db.database).toMatchObject({
      sync_function_count: 3,
      sync_function_exception_count: 1,
      sync_function_reject_count: 1,
      blip_connections_active: 1,
      blip_connections_total: 2,
      changes_feed_waiters: 3,
    });
    expect(db.database!.sync_function_time).toBeGreaterThanOrEqual(0);
    expect(json.syncgateway.per_db.noimport!.shared_bucket_import).toBeUndefined();
    expect(json.syncgateway.per_replication).toEqual({
      'to-cloud': { sgr_active: 1, sgr_num_docs_pushed: 6, sgr_num_docs_pulled: 2, sgr_num_docs_failed: 1, sgr_push_conflict_count: 1, sgr_num_docs_purged: 0, sgr_conflict_resolved_count: 1 },
    });
    for (const section of Object.values(db)) for (const value of Object.values(section)) expect(Number.isFinite(value)).toBe(true);
  });

  it('uses the metric names of the Prometheus exposition', () => {
    const names = DATABASE_STATS.map(metricName);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        'sgw_database_num_doc_writes',
        'sgw_database_doc_writes_bytes',
        'sgw_database_num_doc_reads_rest',
        'sgw_security_auth_success_count',
        'sgw_security_auth_failed_count',
        'sgw_shared_bucket_import_import_count',
        'sgw_shared_bucket_import_import_error_count',
        'sgw_shared_bucket_import_import_cancel_cas',
        'sgw_shared_bucket_import_import_processing_time',
        'sgw_database_sync_function_count',
        'sgw_database_sync_function_time',
        'sgw_database_sync_function_exception_count',
        'sgw_database_sync_function_reject_count',
        'syncline_database_blip_connections_active',
        'syncline_database_changes_feed_waiters',
        'syncline_shared_bucket_import_import_lag_seconds',
        'syncline_shared_bucket_import_import_partitions_held',
      ]),
    );
  });
});

describe('server metrics', () => {
  it('keep one registry per server, so that servers in one process do not clash', async () => {
    const config = parseServerConfig({
      interface: '127.0.0.1:0',
      adminInterface: '127.0.0.1:0',
      metricsInterface: null,
      databases: { db: { server: 'sqlite::memory:' } },
    });
    const logger = createLogger({ level: 'silent' });
    await using first = await startServer(config, { logger });
    await using second = await startServer(config, { logger });
    expect(first.metricsUrl).toBeUndefined();
    first.context.database('db').stats.docWrites = 2;
    const [a, b] = await Promise.all([first.context.metrics.render(), second.context.metrics.render()]);
    expect(a.body).toContain('sgw_database_num_doc_writes{database="db"} 2');
    expect(b.body).toContain('sgw_database_num_doc_writes{database="db"} 0');
    for (const { body } of [a, b]) {
      expect(body).toContain('# TYPE process_cpu_seconds_total counter');
      expect(body.match(/^# TYPE sgw_up /gm)).toHaveLength(1);
    }
  });
});

describe('request labels', () => {
  const req = (method: string, url: string) => Object.assign(new IncomingMessage(new Socket()), { method, url });

  it('name routes by template, never by raw path, so that label values stay few', () => {
    const doc = req('PUT', '/db/some-doc?new_edits=false');
    routeMatched(doc, '{doc}');
    expect(requestLabels(doc)).toEqual({ method: 'PUT', route: '/{db}/{doc}' });
    expect(requestLabels(req('GET', '/'))).toEqual({ method: 'GET', route: '/' });
    expect(requestLabels(req('GET', '/_all_dbs'))).toEqual({ method: 'GET', route: '/_all_dbs' });
    expect(requestLabels(req('GET', '/_ready?x=1'))).toEqual({ method: 'GET', route: '/_ready' });
    expect(requestLabels(req('PUT', '/newdb/'))).toEqual({ method: 'PUT', route: '/{db}/' });
    expect(requestLabels(req('GET', '/db/_blipsync'))).toEqual({ method: 'GET', route: '/{db}/_blipsync' });
    for (const url of ['/_nothing', '/db/_nothing/more/segments', '/a/b/c']) expect(requestLabels(req('GET', url)).route).toBe('unmatched');
    expect(requestLabels(req('PROPFIND', '/')).method).toBe('other');
  });
});

describe('readiness', () => {
  it('fails, naming the database, when its storage does not answer in time or fails; offline databases are not probed', async () => {
    const config = parseServerConfig({
      interface: '127.0.0.1:0',
      adminInterface: '127.0.0.1:0',
      metricsInterface: null,
      databases: { db: { server: 'sqlite::memory:' }, other: { server: 'sqlite::memory:' } },
    });
    await using server = await startServer(config, { logger: createLogger({ level: 'silent' }) });
    const { context } = server;
    expect(await checkReadiness(context)).toEqual({ ready: true });
    const bucket = context.database('db').bucket;
    const original = bucket.lastSequence.bind(bucket);
    try {
      bucket.lastSequence = () => new Promise<number>(() => {});
      expect(await checkReadiness(context, 50)).toEqual({ ready: false, reason: 'storage of database db unreachable: no answer within 50 ms' });
      bucket.lastSequence = () => Promise.reject(new Error('connection refused'));
      expect(await checkReadiness(context, 50)).toEqual({ ready: false, reason: 'storage of database db unreachable: connection refused' });
      context.database('db').setState('Offline');
      expect(await checkReadiness(context, 50)).toEqual({ ready: true });
      context.database('db').setState('Online');
    } finally {
      bucket.lastSequence = original;
    }
    expect(await checkReadiness(context)).toEqual({ ready: true });
  });
});
