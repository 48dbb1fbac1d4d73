import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blipUrl, openSocket } from '../support/blip-client.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { total } from '../support/prometheus.ts';
import { eventually, getJson, request } from '../support/rest.ts';
import { OPEN_GUEST, startTestServer, type TestServer } from '../support/server-process.ts';

/**
 * The metrics an operator watches (requests by route, document writes and reads, sync function time and
 * failures, imports, open replication connections, waiting change feeds) and the health endpoints: `/_ping`,
 * and `/_ready`, which fails while a database's storage cannot be reached.
 */

const SYNC = `function (doc, oldDoc) {
  if (doc.explode) throw new Error('kaboom');
  if (doc.refuse) throw({ forbidden: 'refused' });
  channel(doc.channels);
}`;

/** Whether the exposition has a sample of `name` with exactly these labels among its own. */
const has = (text: string, name: string, labels: Record<string, string>) =>
  text.split('\n').some((line) => line.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)));

describe('metrics of what clients do', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ databases: { db: { sync: SYNC } } });
  });

  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
  });

  const scrape = async () => {
    const res = await fetch(`${server.metricsUrl}/_metrics`);
    expect(res.status).toBe(200);
    return res.text();
  };
  const db = { database: 'db' };

  it('count writes, reads, sync function runs and failures, imports and requests by route template', async () => {
    expect((await request('PUT', `${server.url}/db/a`, { channels: ['x'] })).status).toBe(201);
    expect((await request('PUT', `${server.url}/db/b`, { channels: ['x'] })).status).toBe(201);
    for (const id of ['a', 'a', 'b']) expect((await request('GET', `${server.url}/db/${id}`)).status).toBe(200);
    expect((await request('GET', `${server.url}/db/missing`)).status).toBe(404);
    expect((await request('PUT', `${server.url}/db/c`, { explode: true })).status).toBe(500);
    expect((await request('PUT', `${server.url}/db/d`, { refuse: true })).status).toBe(403);
    expect((await request('GET', `${server.url}/_bogus`)).status).toBe(404);

    // A direct write to the storage, imported by the gateway (running the sync function once more).
    const app = new Database(join(server.dir, 'db.sqlite'), { timeout: 5000 });
    try {
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('from-sql', JSON.stringify({ channels: ['x'] }));
    } finally {
      app.close();
    }
    await eventually(async () => total(await scrape(), 'sgw_shared_bucket_import_import_count', db) === 1);

    const text = await scrape();
    expect(total(text, 'sgw_database_num_doc_writes', db)).toBe(2);
    expect(total(text, 'sgw_database_num_doc_reads_rest', db)).toBe(3);
    expect(total(text, 'sgw_database_sync_function_count', db)).toBe(5);
    expect(total(text, 'sgw_database_sync_function_exception_count', db)).toBe(1);
    expect(total(text, 'sgw_database_sync_function_reject_count', db)).toBe(1);
    expect(total(text, 'sgw_database_sync_function_time', db)).toBeGreaterThan(0);
    expect(text).toContain('# TYPE sgw_database_sync_function_time counter');
    expect(total(text, 'sgw_shared_bucket_import_import_processing_time', db)).toBeGreaterThan(0);
    expect(total(text, 'syncline_shared_bucket_import_import_partitions_held', db)).toBeGreaterThan(0);
    expect(has(text, 'syncline_shared_bucket_import_import_lag_seconds', db)).toBe(true);
    await eventually(async () => total(await scrape(), 'syncline_shared_bucket_import_import_lag_seconds', db) === 0);

    const route = (method: string, path: string, status: string) => ({ api: 'public', method, route: path, status });
    expect(total(text, 'syncline_http_requests_total', route('PUT', '/{db}/{doc}', '2xx'))).toBe(2);
    expect(total(text, 'syncline_http_requests_total', route('PUT', '/{db}/{doc}', '4xx'))).toBe(1);
    expect(total(text, 'syncline_http_requests_total', route('PUT', '/{db}/{doc}', '5xx'))).toBe(1);
    expect(total(text, 'syncline_http_requests_total', route('GET', '/{db}/{doc}', '2xx'))).toBe(3);
    expect(total(text, 'syncline_http_requests_total', route('GET', '/{db}/{doc}', '4xx'))).toBe(1);
    expect(total(text, 'syncline_http_requests_total', route('GET', 'unmatched', '4xx'))).toBe(1);
    expect(total(text, 'syncline_http_request_duration_seconds_count', route('GET', '/{db}/{doc}', '2xx'))).toBe(3);
    expect(total(text, 'syncline_http_request_duration_seconds_bucket', { ...route('GET', '/{db}/{doc}', '2xx'), le: '+Inf' })).toBe(3);
    expect(total(text, 'syncline_http_request_duration_seconds_sum', route('PUT', '/{db}/{doc}', '2xx'))).toBeGreaterThan(0);
    expect(total(text, 'syncline_http_requests_total', { api: 'metrics', method: 'GET', route: '/_metrics', status: '2xx' })).toBeGreaterThan(0);
    // Routes are templates, never raw paths: document ids and unknown URLs add no label values.
    for (const raw of ['/db/a', '/db/b', '/db/missing', '/_bogus']) expect(text).not.toContain(`route="${raw}"`);
  });

  it('show open replication connections and waiting change feeds', async () => {
    const opened = await openSocket(blipUrl(server.url, 'db'));
    if (!('ws' in opened)) throw new Error(`upgrade refused: ${opened.refused.status}`);
    let text = await scrape();
    expect(total(text, 'syncline_database_blip_connections_active', db)).toBe(1);
    expect(total(text, 'syncline_database_blip_connections_total', db)).toBe(1);
    expect(total(text, 'syncline_http_requests_total', { api: 'public', method: 'GET', route: '/{db}/_blipsync', status: '1xx' })).toBe(1);
    opened.ws.close(1000);
    await eventually(async () => total(await scrape(), 'syncline_database_blip_connections_active', db) === 0);
    expect(total(await scrape(), 'syncline_database_blip_connections_total', db)).toBe(1);

    expect(total(await scrape(), 'syncline_database_changes_feed_waiters', db)).toBe(0);
    const abort = new AbortController();
    const feed = fetch(`${server.url}/db/_changes?feed=longpoll&since=now&timeout=30000`, { signal: abort.signal }).catch(() => undefined);
    try {
      await eventually(async () => total(await scrape(), 'syncline_database_changes_feed_waiters', db) === 1);
      text = await scrape();
      expect(total(text, 'sgw_database_num_replications_active', db)).toBe(1);
      // A write wakes the feed.
      expect((await request('PUT', `${server.url}/db/wake`, { channels: ['x'] })).status).toBe(201);
      await eventually(async () => total(await scrape(), 'syncline_database_changes_feed_waiters', db) === 0);
    } finally {
      abort.abort();
      await feed;
    }
  });

  it('answer /_ready on the metrics and admin APIs, not on the public API', async () => {
    expect(await getJson(`${server.metricsUrl}/_ready`)).toMatchObject({ status: 200, body: { ready: true } });
    expect(await getJson(`${server.adminUrl}/_ready`)).toMatchObject({ status: 200, body: { ready: true } });
    expect((await request('HEAD', `${server.metricsUrl}/_ready`)).status).toBe(200);
    expect((await request('POST', `${server.metricsUrl}/_ready`, {})).status).toBe(405);
    expect((await getJson(`${server.url}/_ready`)).status).toBe(404);
    const text = await scrape();
    expect(total(text, 'syncline_http_requests_total', { api: 'metrics', route: '/_ready', status: '2xx' })).toBe(2);
    expect(total(text, 'syncline_http_requests_total', { api: 'admin', route: '/_ready', status: '2xx' })).toBe(1);
  });
});

describe('readiness while PostgreSQL is down', () => {
  let pgs: TestPostgres;

  beforeAll(async () => {
    // Its own server, since this test stops and restarts it.
    pgs = await startPostgres({ embedded: true });
  });

  afterAll(async () => {
    await pgs?.close();
  });

  it('is 503 naming the database while its storage is unreachable, 200 again once it is back; /_ping stays 200', async () => {
    const dbUrl = await pgs.createDatabase('ready');
    await using server = await startTestServer({ logLevel: 'error', databases: { db: { server: dbUrl, users: OPEN_GUEST } } });
    const ready = () => getJson(`${server.metricsUrl}/_ready`);
    expect(await ready()).toMatchObject({ status: 200, body: { ready: true } });

    await pgs.stop();
    try {
      const down = await eventually(async () => {
        const res = await ready();
        return res.status === 503 ? res : undefined;
      });
      expect(down.body.error).toBe('service_unavailable');
      expect(down.body.reason).toMatch(/^storage of database db unreachable: /);
      expect(await getJson(`${server.adminUrl}/_ready`)).toMatchObject({ status: 503, body: { error: 'service_unavailable' } });
      const ping = await fetch(`${server.metricsUrl}/_ping`);
      expect(ping.status).toBe(200);
      expect(await ping.text()).toBe('OK');
    } finally {
      await pgs.start();
    }
    await eventually(async () => (await ready()).status === 200, 30_000, 200);
    expect((await ready()).body).toEqual({ ready: true });
  }, 90_000);
});
