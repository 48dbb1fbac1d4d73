import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, postJson, putJson, request, basicAuth } from '../support/rest.ts';
import { sample, total } from '../support/prometheus.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

/**
 * Sync Gateway-style metrics: Prometheus text at `GET /_metrics` on the metrics listener (and on the admin API),
 * JSON statistics at `GET /_expvar` on the admin API, with counters that follow what clients do.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    databases: {
      db: { users: { ann: { password: 'secret', admin_channels: ['*'] } } },
      plain: { enable_shared_bucket_access: false },
    },
  });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const ann = basicAuth('ann', 'secret');
const wrong = basicAuth('ann', 'wrong');

type Sections = Record<string, Record<string, number>>;
interface Expvar {
  syncgateway: { global: Sections; per_db: Record<string, Sections> };
}

async function expvar(): Promise<Expvar> {
  const res = await getJson<Expvar>(`${server.adminUrl}/_expvar`);
  expect(res.status).toBe(200);
  return res.body;
}

async function scrape(url = `${server.metricsUrl}/_metrics`): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

const bytesOf = (body: unknown) => Buffer.byteLength(JSON.stringify(body));

describe('metrics and expvar', () => {
  it('count document writes and reads, authentications and change feeds', async () => {
    const before = (await expvar()).syncgateway.per_db.db!;

    const one = { greeting: 'hi', n: 1 };
    const two = { text: 'ünïcode', list: [1, 2, 3] };
    const three = { nested: { a: true } };
    expect((await request('PUT', `${server.url}/db/one`, one, ann)).status).toBe(201);
    const bulk = await request('POST', `${server.url}/db/_bulk_docs`, { docs: [{ _id: 'two', ...two }, { _id: 'three', ...three }] }, ann);
    expect(bulk.status).toBe(201);
    expect((await request('GET', `${server.url}/db/one`, undefined, ann)).status).toBe(200);
    expect((await request('GET', `${server.url}/db/two`, undefined, ann)).status).toBe(200);
    expect((await request('GET', `${server.url}/db/_changes?since=0`, undefined, ann)).status).toBe(200);
    const refused = await request('GET', `${server.url}/db/one`, undefined, wrong);
    expect(refused.status).toBe(401);

    const after = (await expvar()).syncgateway.per_db.db!;
    const delta = (section: string, key: string) => after[section]![key]! - before[section]![key]!;
    expect(delta('database', 'num_doc_writes')).toBe(3);
    expect(delta('database', 'doc_writes_bytes')).toBe(bytesOf(one) + bytesOf(two) + bytesOf(three));
    expect(delta('database', 'num_doc_reads_rest')).toBe(2);
    expect(delta('database', 'num_replications_total')).toBe(1);
    expect(after.database!.num_replications_active).toBe(0);
    expect(delta('security', 'auth_success_count')).toBe(5);
    expect(delta('security', 'auth_failed_count')).toBe(1);
    expect(delta('security', 'total_auth_time')).toBeGreaterThan(0);
    expect(delta('cbl_replication_pull', 'num_pull_repl_total_one_shot')).toBe(1);
    expect(delta('cbl_replication_pull', 'num_pull_repl_since_zero')).toBe(1);
    expect(after.database!.doc_count).toBe(3);
    expect(after.database!.last_sequence).toBeGreaterThanOrEqual(3);
    expect(after.database!.high_seq_feed).toBe(after.database!.last_sequence);

    // The Prometheus exposition reads the same counters.
    const text = await scrape();
    const db = { database: 'db' };
    expect(sample(text, 'sgw_database_num_doc_writes', db)).toBe(after.database!.num_doc_writes);
    expect(sample(text, 'sgw_database_doc_writes_bytes', db)).toBe(after.database!.doc_writes_bytes);
    expect(sample(text, 'sgw_database_num_doc_reads_rest', db)).toBe(after.database!.num_doc_reads_rest);
    expect(sample(text, 'sgw_security_auth_success_count', db)).toBe(after.security!.auth_success_count);
    expect(sample(text, 'sgw_security_auth_failed_count', db)).toBe(after.security!.auth_failed_count);
    expect(sample(text, 'sgw_cbl_replication_pull_num_pull_repl_total_one_shot', db)).toBe(after.cbl_replication_pull!.num_pull_repl_total_one_shot);
    expect(sample(text, 'syncline_database_doc_count', db)).toBe(3);
    expect(sample(text, 'sgw_database_num_doc_writes', { database: 'plain' })).toBe(0);
    expect(text).toContain('# TYPE sgw_database_num_doc_writes counter');
    expect(text).toContain('# TYPE sgw_database_num_replications_active gauge');
    expect(total(text, 'syncline_http_requests_total', { api: 'public', status: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(total(text, 'syncline_http_requests_total', { api: 'public', status: '2xx' })).toBeGreaterThanOrEqual(5);
    expect(total(text, 'syncline_http_request_duration_seconds_count', { api: 'admin' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'sgw_up')).toBe(1);
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'sgw_resource_utilization_process_memory_resident')).toBeGreaterThan(0);
  });

  it('shows continuous change feeds while they run', async () => {
    const active = async () => (await expvar()).syncgateway.per_db.db!.cbl_replication_pull!.num_pull_repl_active_continuous;
    const abort = new AbortController();
    const feed = await fetch(`${server.url}/db/_changes?feed=continuous&since=now&heartbeat=1000`, { headers: ann, signal: abort.signal });
    expect(feed.status).toBe(200);
    await eventually(async () => (await active()) === 1);
    expect(sample(await scrape(), 'sgw_database_num_replications_active', { database: 'db' })).toBe(1);
    abort.abort();
    await eventually(async () => (await active()) === 0);
  });

  it('reports import counters of direct writes, and none for a database that does not import', async () => {
    const app = new Database(join(server.dir, 'db.sqlite'), { timeout: 5000 });
    try {
      const before = (await expvar()).syncgateway.per_db.db!.shared_bucket_import!.import_count!;
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('from-sql', JSON.stringify({ source: 'app' }));
      await eventually(async () => (await expvar()).syncgateway.per_db.db!.shared_bucket_import!.import_count! === before + 1);
    } finally {
      app.close();
    }
    const stats = await expvar();
    expect(Object.keys(stats.syncgateway.per_db.db!.shared_bucket_import!)).toEqual(
      expect.arrayContaining(['import_count', 'import_error_count', 'import_cancel_cas', 'import_processing_time']),
    );
    expect(stats.syncgateway.per_db.plain!.shared_bucket_import).toBeUndefined();
    const text = await scrape();
    expect(sample(text, 'sgw_shared_bucket_import_import_count', { database: 'db' })).toBe(stats.syncgateway.per_db.db!.shared_bucket_import!.import_count);
    expect(sample(text, 'sgw_shared_bucket_import_import_count', { database: 'plain' })).toBeUndefined();
  });

  it('lists databases added at run time and forgets removed ones', async () => {
    expect((await putJson(`${server.adminUrl}/extra/`, { server: 'sqlite::memory:' })).status).toBe(201);
    expect(Object.keys((await expvar()).syncgateway.per_db).sort()).toEqual(['db', 'extra', 'plain']);
    expect(sample(await scrape(), 'syncline_database_doc_count', { database: 'extra' })).toBe(0);
    expect((await request('DELETE', `${server.adminUrl}/extra/`)).status).toBe(200);
    expect(Object.keys((await expvar()).syncgateway.per_db).sort()).toEqual(['db', 'plain']);
    expect(sample(await scrape(), 'syncline_database_doc_count', { database: 'extra' })).toBeUndefined();
  });
});

describe('the metrics listener', () => {
  it('is on loopback and serves only /_metrics, /_ping and /_ready', async () => {
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ping = await fetch(`${server.metricsUrl}/_ping`);
    expect(ping.status).toBe(200);
    expect(await ping.text()).toBe('OK');
    expect(await getJson(`${server.metricsUrl}/_ready`)).toMatchObject({ status: 200, body: { ready: true } });
    for (const path of ['/', '/db/', '/db/one', '/_expvar', '/_all_dbs', '/_metricsx']) {
      const res = await getJson(`${server.metricsUrl}${path}`);
      expect({ path, status: res.status, error: res.body?.error }).toEqual({ path, status: 404, error: 'not_found' });
    }
    expect((await postJson(`${server.metricsUrl}/_metrics`, {})).status).toBe(405);
  });

  it('is also served on the admin API, but not on the public API', async () => {
    expect(sample(await scrape(`${server.adminUrl}/_metrics`), 'sgw_up')).toBe(1);
    expect((await getJson(`${server.url}/_metrics`)).status).toBe(404);
    expect((await getJson(`${server.url}/_expvar`)).status).toBe(404);
    expect((await postJson(`${server.adminUrl}/_expvar`, {})).status).toBe(405);
  });

  it('can be disabled, leaving /_metrics and /_expvar on the admin API', async () => {
    await using quiet = await startTestServer({ extra: { metricsInterface: '' } });
    expect(quiet.metricsUrl).toBeUndefined();
    expect(quiet.output.some((line) => line.includes('metrics API listening'))).toBe(false);
    expect((await fetch(`${quiet.adminUrl}/_metrics`)).status).toBe(200);
    expect((await getJson(`${quiet.adminUrl}/_expvar`)).body.syncgateway.per_db.db.database.num_doc_writes).toBe(0);
  });
});
