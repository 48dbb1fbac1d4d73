import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, postJson, putJson, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc, oldDoc) {
  if (doc.bad) throw({forbidden: doc.bad});
  if (doc.admin_only) requireAdmin();
  if (doc.loop) { while (true) {} }
  channel(doc.channels);
  if (doc.owner) access(doc.owner, doc.channels);
}`;

const byChannel = async (base: string, channel: string) => {
  const res = await getJson<{ results: Array<{ id: string; removed?: string[]; deleted?: boolean }> }>(
    `${base}/db/_changes?filter=sync_gateway/bychannel&channels=${encodeURIComponent(channel)}`,
  );
  expect(res.status).toBe(200);
  return res.body.results;
};

describe('the sync function over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ databases: { db: { sync: SYNC, javascript_timeout_secs: 0.5 } } });
  });
  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
  });

  it('routes written documents to their channels', async () => {
    const put = await putJson(`${server.adminUrl}/db/routed`, { channels: ['x', 'y'] });
    expect(put.status).toBe(201);
    expect((await byChannel(server.adminUrl, 'x')).map((r) => r.id)).toContain('routed');
    const moved = await putJson(`${server.adminUrl}/db/routed`, { _rev: put.body.rev, channels: ['y'] });
    expect(moved.status).toBe(201);
    const inX = (await byChannel(server.adminUrl, 'x')).find((r) => r.id === 'routed');
    expect(inX).toBeDefined();
    expect(inX!.removed).toEqual(['x']);
  });

  it('answers 403 with the reason the function throws, on PUT, POST, DELETE and replicated writes', async () => {
    const put = await putJson(`${server.adminUrl}/db/rejected`, { bad: 'x' });
    expect(put.status).toBe(403);
    expect(put.body).toEqual({ error: 'forbidden', reason: 'x' });
    const post = await postJson(`${server.adminUrl}/db/`, { bad: 'no posting' });
    expect(post.status).toBe(403);
    expect(post.body).toEqual({ error: 'forbidden', reason: 'no posting' });
    const replicated = await putJson(`${server.adminUrl}/db/rejected?new_edits=false`, { _rev: '1-abc', bad: 'replicated' });
    expect(replicated.status).toBe(403);
    expect(replicated.body.reason).toBe('replicated');
    expect((await getJson(`${server.adminUrl}/db/rejected`)).status).toBe(404);
  });

  it('reports a rejected document in _bulk_docs as that document`s error', async () => {
    const res = await postJson(`${server.adminUrl}/db/_bulk_docs`, {
      docs: [
        { _id: 'bulk-ok', channels: 'b' },
        { _id: 'bulk-no', bad: 'not this one' },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body[0]).toMatchObject({ id: 'bulk-ok', rev: expect.stringMatching(/^1-/) });
    expect(res.body[1]).toEqual({ id: 'bulk-no', error: 'forbidden', reason: 'not this one', status: 403 });
    const replicated = await postJson(`${server.adminUrl}/db/_bulk_docs`, { new_edits: false, docs: [{ _id: 'bulk-rep', _rev: '1-abc', bad: 'nope' }] });
    expect(replicated.body).toEqual([{ id: 'bulk-rep', error: 'forbidden', reason: 'nope', status: 403 }]);
  });

  it('lets requireAdmin pass on the admin API', async () => {
    const res = await putJson(`${server.adminUrl}/db/admin-only`, { admin_only: true, channels: 'ops' });
    expect(res.status).toBe(201);
  });

  it('answers 500 when the function times out and serves the next write', async () => {
    const slow = await putJson(`${server.adminUrl}/db/slow`, { loop: true });
    expect(slow.status).toBe(500);
    expect(slow.body.error).toBe('internal_server_error');
    expect(slow.body.reason).toMatch(/timed out/);
    const next = await putJson(`${server.adminUrl}/db/after-slow`, { channels: 'fine' });
    expect(next.status).toBe(201);
    expect((await byChannel(server.adminUrl, 'fine')).map((r) => r.id)).toEqual(['after-slow']);
  });

  it('runs the function on attachment writes and deletions', async () => {
    const doc = await putJson(`${server.adminUrl}/db/with-att`, { channels: 'files' });
    const att = await request('PUT', `${server.adminUrl}/db/with-att/note.txt?rev=${doc.body.rev}`, 'hello', { 'Content-Type': 'text/plain' });
    expect(att.status).toBe(201);
    const gone = await request('DELETE', `${server.adminUrl}/db/with-att?rev=${att.body.rev}`);
    expect(gone.status).toBe(200);
    const entry = (await byChannel(server.adminUrl, 'files')).find((r) => r.id === 'with-att');
    expect(entry).toMatchObject({ deleted: true, removed: ['files'] });
  });
});

describe('a sync function that does not compile', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('stops the server from starting, naming the database and the line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncline-sync-'));
    dirs.push(dir);
    const file = join(dir, 'config.json');
    const sync = 'function (doc) {\n  channel(doc.channels;\n}';
    await writeFile(
      file,
      JSON.stringify({ interface: '127.0.0.1:0', adminInterface: '127.0.0.1:0', databases: { db: { server: `sqlite:${join(dir, 'db.sqlite')}`, sync } } }),
    );
    const bin = resolve(import.meta.dirname, '../../packages/server/bin/syncline.js');
    const result = spawnSync(process.execPath, [bin, 'serve', '--config', file], { encoding: 'utf8', timeout: 30_000, cwd: dir });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('databases.db.sync');
    expect(result.stderr).toMatch(/line 2/);
  });
});

describe('_resync', () => {
  it('re-routes existing documents after the sync function changes', async () => {
    await using server = await startTestServer();
    const admin = `${server.adminUrl}/db`;
    const docs = Array.from({ length: 5 }, (_, i) => ({ _id: `d${i}`, channels: 'old', color: i % 2 === 0 ? 'red' : 'blue' }));
    expect((await postJson(`${admin}/_bulk_docs`, { docs })).status).toBe(201);
    expect((await byChannel(server.adminUrl, 'old')).map((r) => r.id).sort()).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);

    const config = (await getJson(`${admin}/_config`)).body as Record<string, unknown>;
    const reconfigured = await putJson(`${admin}/_config`, { ...config, sync: 'function (doc) { channel(doc.color); }' });
    expect(reconfigured.status).toBe(201);

    const online = await request('POST', `${admin}/_resync`);
    expect(online.status).toBe(503);
    expect(online.body.reason).toMatch(/must be _offline/);
    expect((await request('POST', `${admin}/_resync?action=pause`)).status).toBe(400);
    expect((await request('POST', `${admin}/_resync?action=stop`)).status).toBe(400);

    expect((await request('POST', `${admin}/_offline`)).status).toBe(200);
    expect((await getJson(`${server.url}/db/`)).status).toBe(503);
    expect((await request('POST', `${admin}/_offline`)).status).toBe(503);

    const started = await request('POST', `${admin}/_resync`);
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: 'running', docs_processed: 0 });
    const done = await eventually(async () => {
      const status = (await getJson(`${admin}/_resync`)).body;
      return status.status === 'running' ? undefined : status;
    });
    expect(done).toMatchObject({ status: 'completed', docs_processed: 5, docs_changed: 5, last_error: '' });

    expect((await request('POST', `${admin}/_online`)).status).toBe(200);
    expect((await getJson(`${server.url}/db/`)).status).toBe(200);
    expect((await byChannel(server.adminUrl, 'red')).map((r) => r.id).sort()).toEqual(['d0', 'd2', 'd4']);
    expect((await byChannel(server.adminUrl, 'blue')).map((r) => r.id).sort()).toEqual(['d1', 'd3']);
    const old = await byChannel(server.adminUrl, 'old');
    expect(old.map((r) => r.removed)).toEqual([['old'], ['old'], ['old'], ['old'], ['old']]);
  });
});
