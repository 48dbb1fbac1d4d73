import pg from 'pg';
import { MemoryStore, Replicator } from '@syncline/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { basicAuth, eventually, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

/**
 * Three Syncline processes on one PostgreSQL database: two import nodes and one client-only node
 * (import_docs: false). Import partitions are shared by the import nodes and taken over when one dies.
 */

interface NodeStatus {
  id: string;
  import_docs: boolean;
  partitions: number[];
}

interface ImportStatus {
  node: string;
  nodes: NodeStatus[];
  partitions: Array<{ partition: number; owner: string | null; pending: number }>;
}

const BURST = 10_000;
const BATCH = 100;
const TAKEOVER_BOUND_MS = 15_000;

let pgs: TestPostgres;
let dbUrl: string;
const nodes: TestServer[] = [];

const dbConfig = (importDocs: boolean) => ({
  server: dbUrl,
  enable_shared_bucket_access: true,
  import_docs: importDocs,
  sync: `function (doc, oldDoc) { channel(doc.channels || 'all'); }`,
  users: { GUEST: { disabled: false, admin_channels: ['*'] } },
});

beforeAll(async () => {
  pgs = await startPostgres();
  dbUrl = await pgs.createDatabase('cluster');
  // Started one after the other: the first creates the tables, the others find them.
  for (const importDocs of [true, true, false]) {
    nodes.push(await startTestServer({ logLevel: 'warn', databases: { db: dbConfig(importDocs) } }));
  }
}, 120_000);

afterAll(async () => {
  for (const node of nodes) await node.stop().catch(() => {});
  await pgs?.close();
});

const status = async (node: TestServer): Promise<ImportStatus> => {
  const res = await request<ImportStatus>('GET', `${node.adminUrl}/db/_import/status`);
  expect(res.status).toBe(200);
  return res.body;
};

const nodeId = async (node: TestServer): Promise<string> => (await request('GET', `${node.adminUrl}/db/`)).body.server_uuid;

async function sqlInsert(client: pg.Client, ids: string[], body: (id: string) => unknown): Promise<void> {
  await client.query('INSERT INTO db.documents (id, body) SELECT * FROM unnest($1::text[], $2::jsonb[])', [ids, ids.map((id) => JSON.stringify(body(id)))]);
}

async function changesOf(node: TestServer): Promise<Map<string, { seq: number; rev: string }>> {
  const res = await request('GET', `${node.adminUrl}/db/_changes?since=0`);
  const out = new Map<string, { seq: number; rev: string }>();
  for (const entry of res.body.results) {
    expect(out.has(entry.id), `${entry.id} listed twice`).toBe(false);
    out.set(entry.id, { seq: entry.seq, rev: entry.changes[0].rev });
  }
  return out;
}

describe('Syncline cluster on PostgreSQL', () => {
  it('spreads the import partitions over the import nodes only, one owner each', async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const [idA, idB, idC] = await Promise.all([nodeId(a), nodeId(b), nodeId(c)]);
    expect(new Set([idA, idB, idC]).size).toBe(3);
    const settled = await eventually(async () => {
      const s = await status(c);
      const owners = s.partitions.map((p) => p.owner);
      const mine = (id: string) => owners.filter((o) => o === id).length;
      return s.nodes.length === 3 && owners.every((o) => o === idA || o === idB) && mine(idA) > 0 && mine(idB) > 0 ? s : undefined;
    }, 30_000, 200);
    expect(settled.nodes.find((n) => n.id === idC)).toMatchObject({ import_docs: false, partitions: [] });
    // The node list and the partition table agree: no partition is claimed twice.
    const claimed = settled.nodes.flatMap((n) => n.partitions);
    expect(claimed.length).toBe(new Set(claimed).size);
    expect(claimed.length).toBe(settled.partitions.length);
  });

  it('shows writes through any node and through SQL on every node, and wakes feeds on other nodes', async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const before = (await request('GET', `${b.url}/db/_changes`)).body.last_seq;
    const longpoll = request('GET', `${b.url}/db/_changes?feed=longpoll&since=${before}&timeout=20000`);
    expect((await request('PUT', `${a.url}/db/via-a`, { from: 'a' })).status).toBe(201);
    const woken = await longpoll;
    expect(woken.body.results.map((r: { id: string }) => r.id)).toContain('via-a');

    expect((await request('PUT', `${c.url}/db/via-c`, { from: 'c' })).status).toBe(201);
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    try {
      await sqlInsert(client, ['via-sql'], () => ({ from: 'sql' }));
    } finally {
      await client.end();
    }
    for (const node of nodes) {
      await eventually(async () => {
        const seen = await changesOf(node);
        return ['via-a', 'via-c', 'via-sql'].every((id) => seen.has(id));
      }, 10_000);
      expect((await request('GET', `${node.url}/db/via-sql`)).body).toMatchObject({ from: 'sql' });
    }
  });

  it('delivers a write through one node to a continuous Couchbase Lite pull on another', async () => {
    const [a, , c] = nodes as [TestServer, TestServer, TestServer];
    const store = new MemoryStore();
    const replicator = new Replicator({ url: `${c.url.replace(/^http/, 'ws')}/db`, db: store, type: 'pull', continuous: true });
    replicator.start();
    try {
      await replicator.waitFor((s) => s === 'idle');
      expect((await request('PUT', `${a.url}/db/blip-across`, { via: 'a' })).status).toBe(201);
      await eventually(async () => (await store.getDocument('blip-across'))?.body.via === 'a', 10_000, 20);
    } finally {
      await replicator.stop();
    }
  });

  it('applies users and sessions made on one node on the others', async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    expect((await request('PUT', `${a.adminUrl}/db/_user/ann`, { password: 'first-pass', admin_channels: ['red'] })).status).toBe(201);
    expect((await request('GET', `${c.url}/db/_session`, undefined, basicAuth('ann', 'first-pass'))).body.userCtx.name).toBe('ann');
    const login = await request('POST', `${b.url}/db/_session`, { name: 'ann', password: 'first-pass' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect((await request('GET', `${c.url}/db/_session`, undefined, { Cookie: cookie })).body.userCtx.name).toBe('ann');
    expect((await request('PUT', `${b.adminUrl}/db/_user/ann`, { password: 'second-pass', admin_channels: ['red'] })).status).toBe(200);
    expect((await request('GET', `${c.url}/db/_session`, undefined, basicAuth('ann', 'first-pass'))).status).toBe(401);
    expect((await request('DELETE', `${a.adminUrl}/db/_user/ann/_session`)).status).toBe(200);
    expect((await request('GET', `${c.url}/db/`, undefined, { Cookie: cookie })).status).toBe(401);
  });

  it(`takes over a killed import node's partitions within ${TAKEOVER_BOUND_MS / 1000} s, importing each of ${BURST} SQL writes exactly once`, async () => {
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    const [idA, idB] = await Promise.all([nodeId(a), nodeId(b)]);
    const ids = Array.from({ length: BURST }, (_, i) => `burst-${String(i).padStart(5, '0')}`);
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    let killedAt = 0;
    try {
      for (let i = 0; i < BURST; i += BATCH) {
        await sqlInsert(client, ids.slice(i, i + BATCH), (id) => ({ burst: Number(id.slice(6)) }));
        if (i === BURST / 4) {
          await a.stop('SIGKILL');
          killedAt = Date.now();
        }
      }
    } finally {
      await client.end();
    }
    // B, the only import node left, holds every partition within the bound.
    await eventually(async () => {
      const s = await status(c);
      return s.partitions.every((p) => p.owner === idB) && !s.nodes.some((n) => n.id === idA);
    }, Math.max(1, TAKEOVER_BOUND_MS - (Date.now() - killedAt)), 100);

    // Every write is on the client-only node's feed, each exactly once: one revision, generation 1.
    const seen = await eventually(async () => {
      const changes = await changesOf(c);
      return ids.every((id) => changes.has(id)) ? changes : undefined;
    }, 60_000, 500);
    const generations = ids.map((id) => seen.get(id)!.rev.split('-')[0]);
    expect(generations.filter((g) => g !== '1')).toEqual([]);
    const sample = await request('POST', `${c.adminUrl}/db/_all_docs?include_docs=true`, { keys: [ids[0], ids[BURST / 2], ids[BURST - 1]] });
    expect(sample.body.rows.map((r: { doc: { burst: number } }) => r.doc.burst)).toEqual([0, BURST / 2, BURST - 1]);
    const backlog = await status(b);
    await eventually(async () => (await status(b)).partitions.every((p) => p.pending === 0), 20_000);
    expect(backlog.node).toBe(idB);
  });

  it('applies a configuration changed on one node on the others, keeping their own import_docs', async () => {
    const [, b, c] = nodes as [TestServer, TestServer, TestServer];
    const sync = `function (doc, oldDoc) { channel('changed'); }`;
    expect((await request('PUT', `${b.adminUrl}/db/_config`, { ...dbConfig(true), sync })).status).toBe(201);
    const applied = await eventually(async () => {
      const res = await request('GET', `${c.adminUrl}/db/_config`);
      return res.status === 200 && res.body.sync === sync ? res.body : undefined;
    }, 10_000, 100);
    expect(applied.import_docs).toBe(false);
    expect((await request('PUT', `${c.url}/db/after-config`, { x: 1 })).status).toBe(201);
    const routed = await request('GET', `${b.adminUrl}/db/_changes?filter=sync_gateway/bychannel&channels=changed`);
    expect(routed.body.results.map((r: { id: string }) => r.id)).toEqual(['after-config']);
  });
});
