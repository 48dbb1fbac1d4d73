/**
 * Server-to-server replication (ISGR-style) between two real Syncline processes A and B: a continuous
 * pushAndPull with a channel filter (attachments, deletions, documents outside the channels left alone), a
 * restart of B on the same directory and port, the four conflict policies, a one-shot migration of 1,000
 * documents served afterwards to PouchDB and to the BLIP replicator, bad input, an unreachable remote, and a
 * replication declared in the config starting at boot.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, Replicator } from '@syncline/client';
import { eventually, request } from '../support/rest.ts';
import { memoryPouch, remotePouch } from '../support/pouch.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc) { channel(doc.channels); }`;
const DATABASES = { db: { sync: SYNC }, big: { sync: SYNC } };

let a: TestServer;
let b: TestServer;
let bDir: string;
let bPort: string;

beforeAll(async () => {
  [a, b] = await Promise.all([startTestServer({ logLevel: 'warn', databases: DATABASES }), startTestServer({ logLevel: 'warn', databases: DATABASES })]);
  bDir = b.dir;
  bPort = new URL(b.url).port;
}, 60_000);

afterAll(async () => {
  await a?.[Symbol.asyncDispose]();
  await b?.stop();
  if (bDir) await rm(bDir, { recursive: true, force: true });
});

const remote = (db = 'db'): string => `${b.url.replace(/^http/, 'ws')}/${db}`;

async function put(server: TestServer, id: string, body: Record<string, unknown>, db = 'db'): Promise<string> {
  const current = await request('GET', `${server.adminUrl}/${db}/${encodeURIComponent(id)}`);
  const rev = current.status === 200 ? { _rev: current.body._rev as string } : {};
  const res = await request('PUT', `${server.adminUrl}/${db}/${encodeURIComponent(id)}`, { ...body, ...rev });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.rev as string;
}

async function getDoc(server: TestServer, id: string, db = 'db'): Promise<{ status: number; body: any }> {
  return request('GET', `${server.adminUrl}/${db}/${encodeURIComponent(id)}`);
}

/** The doc's current revision on a server, or undefined when missing (deleted counts as missing). */
async function revOf(server: TestServer, id: string, db = 'db'): Promise<string | undefined> {
  const res = await getDoc(server, id, db);
  return res.status === 200 ? (res.body._rev as string) : undefined;
}

async function status(server: TestServer, id: string, db = 'db'): Promise<any> {
  const res = await request('GET', `${server.adminUrl}/${db}/_replicationStatus/${id}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

describe('continuous pushAndPull with a channel filter', () => {
  it('converges writes on both sides, attachments and deletions included, and leaves other channels alone', async () => {
    const created = await request('PUT', `${a.adminUrl}/db/_replication/blue`, {
      remote: remote(),
      direction: 'pushAndPull',
      continuous: true,
      filter: 'sync_gateway/bychannel',
      query_params: { channels: ['blue'] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await request('PUT', `${a.adminUrl}/db/_replication/blue`, { remote: remote(), direction: 'pushAndPull', continuous: true, filter: 'sync_gateway/bychannel', query_params: { channels: ['blue'] } })).status).toBe(200);
    await eventually(async () => (await status(a, 'blue')).status === 'running');

    await put(a, 'a-blue', { channels: ['blue'], from: 'a' });
    await put(a, 'a-red', { channels: ['red'], from: 'a' });
    await put(b, 'b-blue', { channels: ['blue'], from: 'b' });
    await put(b, 'b-red', { channels: ['red'], from: 'b' });
    const text = Buffer.from('hello attachment').toString('base64');
    await put(a, 'a-att', { channels: ['blue'], _attachments: { 'hello.txt': { content_type: 'text/plain', data: text } } });
    await put(a, 'a-gone', { channels: ['blue'] });
    await put(b, 'b-gone', { channels: ['blue'] });

    for (const id of ['a-blue', 'a-att', 'a-gone']) {
      await eventually(async () => (await revOf(b, id)) === (await revOf(a, id)) && (await revOf(b, id)) !== undefined).catch(async (err: unknown) => {
        throw new Error(`${id}: ${String(err)} ${JSON.stringify(await status(a, 'blue'))}\n${a.output.slice(-30).join('\n')}`);
      });
    }
    for (const id of ['b-blue', 'b-gone']) await eventually(async () => (await revOf(a, id)) === (await revOf(b, id)) && (await revOf(a, id)) !== undefined);
    const att = await fetch(`${b.adminUrl}/db/a-att/hello.txt`);
    expect(att.status).toBe(200);
    expect(await att.text()).toBe('hello attachment');

    // Deletions both ways.
    expect((await request('DELETE', `${a.adminUrl}/db/a-gone?rev=${await revOf(a, 'a-gone')}`)).status).toBe(200);
    expect((await request('DELETE', `${b.adminUrl}/db/b-gone?rev=${await revOf(b, 'b-gone')}`)).status).toBe(200);
    await eventually(async () => (await getDoc(b, 'a-gone')).status === 404);
    await eventually(async () => (await getDoc(a, 'b-gone')).status === 404);
    // An update after the replication caught up goes too.
    await put(b, 'b-blue', { channels: ['blue'], from: 'b', v: 2 });
    await eventually(async () => (await getDoc(a, 'b-blue')).body.v === 2);

    expect((await getDoc(b, 'a-red')).status).toBe(404);
    expect((await getDoc(a, 'b-red')).status).toBe(404);
    const s = await status(a, 'blue');
    expect(s.docs_written).toBeGreaterThanOrEqual(4);
    expect(s.docs_read).toBeGreaterThanOrEqual(3);
    expect(s.status).toBe('running');
    const listed = await request('GET', `${a.adminUrl}/db/_replication/`);
    expect(Object.keys(listed.body)).toContain('blue');
    const all = await request('GET', `${a.adminUrl}/db/_replicationStatus/`);
    expect(all.body.map((r: { replication_id: string }) => r.replication_id)).toContain('blue');
  }, 60_000);

  it('converges after the remote restarts, without duplicate revisions', async () => {
    await b.stop();
    await eventually(async () => ['reconnecting', 'error'].includes((await status(a, 'blue')).status), 30_000);
    const before = (await request('GET', `${a.adminUrl}/db/`)).status;
    expect(before).toBe(200);
    await put(a, 'while-down', { channels: ['blue'], from: 'a' });
    await put(a, 'a-blue', { channels: ['blue'], from: 'a', v: 2 });
    b = await startTestServer({ logLevel: 'warn', databases: DATABASES, dir: bDir, extra: { interface: `127.0.0.1:${bPort}` } });
    await put(b, 'after-restart', { channels: ['blue'], from: 'b' });
    await eventually(async () => (await status(a, 'blue')).status === 'running', 60_000);
    for (const id of ['while-down', 'a-blue', 'after-restart', 'b-blue', 'a-att']) {
      await eventually(async () => {
        const [ra, rb] = [await revOf(a, id), await revOf(b, id)];
        return ra !== undefined && ra === rb;
      }, 30_000);
    }
    // No extra revisions: every document has the same generation and no conflicts on both sides.
    for (const id of ['while-down', 'a-blue', 'after-restart', 'b-blue']) {
      const [da, db] = [await request('GET', `${a.adminUrl}/db/${id}?revs=true&conflicts=true`), await request('GET', `${b.adminUrl}/db/${id}?revs=true&conflicts=true`)];
      expect(da.body._revisions.start).toBe(db.body._revisions.start);
      expect(da.body._conflicts).toBeUndefined();
      expect(db.body._conflicts).toBeUndefined();
    }
    expect((await getDoc(a, 'a-blue')).body._rev.startsWith('2-')).toBe(true);
  }, 120_000);
});

describe('conflict policies', () => {
  const RESOLVER = `function (conflict) {
    return { channels: conflict.LocalDocument.channels, v: 'merged', l: conflict.LocalDocument.v, r: conflict.RemoteDocument.v };
  }`;
  const cases = [
    { policy: 'default', expected: 'local' },
    { policy: 'localWins', expected: 'local' },
    { policy: 'remoteWins', expected: 'remote' },
    { policy: 'custom', expected: 'merged' },
  ] as const;

  it('make a diverged document converge on the documented winner', async () => {
    for (const { policy } of cases) {
      const channel = `conf-${policy}`;
      await put(a, `c-${policy}`, { channels: [channel], v: 'base' });
      const seeded = await request('POST', `${a.adminUrl}/db/_replicate`, { remote: remote(), direction: 'push', filter: 'sync_gateway/bychannel', query_params: { channels: [channel] } });
      expect(seeded.status, JSON.stringify(seeded.body)).toBe(200);
      expect(seeded.body.status).toBe('stopped');
      await eventually(async () => (await revOf(b, `c-${policy}`)) === (await revOf(a, `c-${policy}`)));
      // Local (A) gets the longer history, so the default rules pick it; remote (B) one edit.
      await put(a, `c-${policy}`, { channels: [channel], v: 'local1' });
      await put(a, `c-${policy}`, { channels: [channel], v: 'local' });
      await put(b, `c-${policy}`, { channels: [channel], v: 'remote' });
    }
    for (const { policy } of cases) {
      const res = await request('PUT', `${a.adminUrl}/db/_replication/conf-${policy}`, {
        remote: remote(),
        direction: 'pushAndPull',
        continuous: true,
        filter: 'sync_gateway/bychannel',
        query_params: { channels: [`conf-${policy}`] },
        conflict_resolution_type: policy,
        ...(policy === 'custom' ? { custom_conflict_resolver: RESOLVER } : {}),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    for (const { policy, expected } of cases) {
      const id = `c-${policy}`;
      await eventually(async () => {
        const [da, db] = [await getDoc(a, id), await getDoc(b, id)];
        return da.body._rev === db.body._rev && da.body.v === expected && db.body.v === expected;
      }, 30_000);
      if (policy === 'custom') {
        const doc = (await getDoc(b, id)).body;
        expect(doc.l).toBe('local');
        expect(doc.r).toBe('remote');
      }
      const conflicts = await request('GET', `${a.adminUrl}/db/${id}?conflicts=true`);
      expect(conflicts.body._conflicts).toBeUndefined();
      expect((await status(a, `conf-${policy}`)).conflicts_resolved).toBeGreaterThanOrEqual(1);
    }
    for (const { policy } of cases) {
      const stopped = await request('PUT', `${a.adminUrl}/db/_replicationStatus/conf-${policy}?action=stop`);
      expect(stopped.status).toBe(200);
      await eventually(async () => (await status(a, `conf-${policy}`)).status === 'stopped');
      expect((await request('PUT', `${a.adminUrl}/db/_replicationStatus/conf-${policy}?action=reset`)).status).toBe(200);
      expect((await request('DELETE', `${a.adminUrl}/db/_replication/conf-${policy}`)).status).toBe(200);
      expect((await request('GET', `${a.adminUrl}/db/_replication/conf-${policy}`)).status).toBe(404);
    }
  }, 120_000);
});

describe('migration', () => {
  it('pushes 1,000 documents one-shot, then the target serves them to PouchDB and to the BLIP replicator', async () => {
    const docs = Array.from({ length: 1000 }, (_, i) => ({ _id: `m-${String(i).padStart(4, '0')}`, channels: ['m'], n: i }));
    for (let i = 0; i < docs.length; i += 250) {
      expect((await request('POST', `${a.adminUrl}/big/_bulk_docs`, { docs: docs.slice(i, i + 250) })).status).toBe(201);
    }
    const res = await request('POST', `${a.adminUrl}/big/_replicate`, { remote: remote('big'), direction: 'push', batch_size: 100 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('stopped');
    expect(res.body.docs_written).toBe(1000);
    expect(res.body.doc_write_failures).toBe(0);
    expect((await request('GET', `${b.adminUrl}/big/`)).body.doc_count).toBe(1000);

    const pouch = memoryPouch('migrated');
    try {
      const result = await pouch.replicate.from(remotePouch(`${b.url}/big`));
      expect(result.ok).toBe(true);
      expect((await pouch.info()).doc_count).toBe(1000);
      const one = (await pouch.get('m-0042')) as unknown as { n: number };
      expect(one.n).toBe(42);
    } finally {
      await pouch.destroy();
    }

    const store = new MemoryStore();
    const replicator = new Replicator({ url: `${b.url.replace(/^http/, 'ws')}/big`, db: store, type: 'pull' });
    replicator.start();
    const final = await replicator.whenStopped();
    expect(final.error).toBeUndefined();
    expect(final.documentsPulled).toBe(1000);
    expect((await store.getDocument('m-0999'))?.body.n).toBe(999);
    // The same one-shot again finds nothing to do (its checkpoint is kept).
    const again = await request('POST', `${a.adminUrl}/big/_replicate`, { remote: remote('big'), direction: 'push', batch_size: 100 });
    expect(again.body.docs_written).toBe(0);
  }, 120_000);

  it('POST /_replicate takes source and target', async () => {
    await put(a, 'via-server-replicate', { channels: ['x'] }, 'big');
    const res = await request('POST', `${a.adminUrl}/_replicate`, { source: 'big', target: remote('big') });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.direction).toBe('push');
    expect(res.body.status).toBe('stopped');
    expect((await getDoc(b, 'via-server-replicate', 'big')).status).toBe(200);
    const bad = await request('POST', `${a.adminUrl}/_replicate`, { source: 'big', target: 'other' });
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toContain('source, target');
  }, 60_000);
});

describe('bad input and unreachable remotes', () => {
  const base = { remote: 'ws://127.0.0.1:4984/db', direction: 'pull' };
  it.each([
    ['a bad URL', { ...base, remote: 'not a url' }, 'remote'],
    ['a URL without a database', { ...base, remote: 'ws://127.0.0.1:4984/' }, 'remote'],
    ['an unknown direction', { ...base, direction: 'sideways' }, 'direction'],
    ['a missing remote', { direction: 'pull' }, 'remote'],
    ['custom without a resolver', { ...base, conflict_resolution_type: 'custom' }, 'custom_conflict_resolver'],
    ['a resolver that does not compile', { ...base, conflict_resolution_type: 'custom', custom_conflict_resolver: 'function (' }, 'custom_conflict_resolver'],
    ['an unknown field', { ...base, bogus: true }, 'bogus'],
    ['a filter without channels', { ...base, filter: 'sync_gateway/bychannel' }, 'query_params.channels'],
  ])('refuses %s with 400 naming the field', async (_what, body, field) => {
    const res = await request('PUT', `${a.adminUrl}/db/_replication/bad`, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_request');
    expect(res.body.reason).toContain(field);
    const adhoc = await request('POST', `${a.adminUrl}/db/_replicate`, body);
    expect(adhoc.status).toBe(400);
    expect(adhoc.body.reason).toContain(field);
  });

  it('is admin-only', async () => {
    expect((await request('GET', `${a.url}/db/_replicationStatus/`)).status).toBe(403);
  });

  it('reports an unreachable remote as reconnecting or error while the server keeps serving', async () => {
    const res = await request('PUT', `${a.adminUrl}/db/_replication/down`, { remote: 'ws://127.0.0.1:1/db', direction: 'pushAndPull', continuous: true });
    expect(res.status).toBe(201);
    const s = await eventually(async () => {
      const current = await status(a, 'down');
      return ['reconnecting', 'error'].includes(current.status) ? current : undefined;
    }, 30_000);
    expect(s.last_error).toBeTruthy();
    expect((await request('GET', `${a.url}/db/`)).status).toBe(200);
    expect((await request('PUT', `${a.adminUrl}/db/_replicationStatus/down?action=reset`)).status).toBe(400);
    expect((await request('DELETE', `${a.adminUrl}/db/_replication/down`)).status).toBe(200);
    expect((await request('GET', `${a.adminUrl}/db/_replicationStatus/down`)).status).toBe(404);
  }, 60_000);
});

describe('config-declared replications', () => {
  it('start at boot and report running', async () => {
    await put(b, 'for-boot', { channels: ['boot'] });
    const c = await startTestServer({
      logLevel: 'warn',
      databases: { db: { sync: SYNC, replications: { boot: { remote: remote(), direction: 'pull', continuous: true, filter: 'sync_gateway/bychannel', query_params: { channels: ['boot'] } } } } },
    });
    try {
      await eventually(async () => (await status(c, 'boot')).status === 'running', 30_000);
      await eventually(async () => (await getDoc(c, 'for-boot')).status === 200);
      // Its counters are in the metrics of the node that runs it.
      const metrics = await eventually(async () => {
        const text = (await request('GET', `${c.metricsUrl}/_metrics`)).body as string;
        return /syncline_replication_sgr_num_docs_pulled\{database="db",replication="boot"\} [1-9]/.test(text) ? text : undefined;
      });
      expect(metrics).toContain('syncline_replication_sgr_active{database="db",replication="boot"} 1');
      const listed = await request('GET', `${c.adminUrl}/db/_replication/boot`);
      expect(listed.body.direction).toBe('pull');
      expect((await request('DELETE', `${c.adminUrl}/db/_replication/boot`)).status).toBe(400);
    } finally {
      await c[Symbol.asyncDispose]();
    }
  }, 60_000);
});
