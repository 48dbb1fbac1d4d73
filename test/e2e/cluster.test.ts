/**
 * Cluster status endpoints, and two real server processes sharing one SQLite file as two nodes of a cluster:
 * one imports, the other takes over when the first is killed (SIGKILL: no lease is released).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

interface ImportStatusBody {
  node: string;
  nodes: Array<{ id: string; hostname: string; pid: number; import_docs: boolean; heartbeat_age_ms: number; partitions: number[] }>;
  partitions: Array<{ partition: number; owner: string | null; position: number; pending: number; oldest_pending_age_ms: number | null }>;
  pending: number;
  local: { importing: boolean; partitions: Array<{ partition: number; position: number }>; leases_gained: number; leases_lost: number };
}

describe('GET /{db}/_import/status and GET /_cluster', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ logLevel: 'warn', databases: { db: {}, quiet: { import_docs: false } } });
  });
  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
  });

  it('reports this node, its partitions and the import backlog', async () => {
    const app = new BetterSqlite(join(server.dir, 'db.sqlite'), { timeout: 5000 });
    try {
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('direct', '{"v":1}');
    } finally {
      app.close();
    }
    const status = await eventually(async () => {
      const res = await getJson<ImportStatusBody>(`${server.adminUrl}/db/_import/status`);
      return res.status === 200 && res.body.pending === 0 && res.body.partitions[0]!.position > 0 ? res.body : false;
    });
    expect(status.nodes).toHaveLength(1);
    expect(status.nodes[0]).toMatchObject({ id: status.node, pid: server.process.pid, import_docs: true, partitions: [0] });
    expect(status.nodes[0]!.heartbeat_age_ms).toBeGreaterThanOrEqual(0);
    expect(status.partitions).toEqual([{ partition: 0, owner: status.node, position: status.partitions[0]!.position, pending: 0, oldest_pending_age_ms: null }]);

    expect(status.local).toMatchObject({ importing: true, leases_gained: 1, leases_lost: 0, partitions: [{ partition: 0 }] });
    const quiet = (await getJson<ImportStatusBody>(`${server.adminUrl}/quiet/_import/status`)).body;
    expect(quiet.nodes.map((n) => [n.id, n.import_docs, n.partitions])).toEqual([[status.node, false, []]]);
    expect(quiet.partitions[0]!.owner).toBeNull();
    expect(quiet.local).toMatchObject({ importing: false, partitions: [] });

    const cluster = await getJson(`${server.adminUrl}/_cluster`);
    expect(cluster.status).toBe(200);
    expect(cluster.body.node).toBe(status.node);
    expect(cluster.body.nodes).toEqual([expect.objectContaining({ id: status.node, databases: ['db', 'quiet'] })]);
    expect(Object.keys(cluster.body.databases)).toEqual(['db', 'quiet']);
    expect(cluster.body.databases.db.partitions[0].owner).toBe(status.node);
  });

  it('is served on the admin API only', async () => {
    expect((await request('GET', `${server.url}/db/_import/status`)).status).toBe(403);
    expect((await request('GET', `${server.url}/_cluster`)).status).toBe(404);
  });
});

describe('two server processes on one SQLite file', () => {
  it('import on one node; the other takes the partitions over when it is killed', async () => {
    const one = await startTestServer({ logLevel: 'warn', keepDir: true });
    const two = await startTestServer({ logLevel: 'warn', dir: one.dir });
    try {
      await killAndTakeOver(one, two);
    } finally {
      await two[Symbol.asyncDispose]();
      await one[Symbol.asyncDispose]();
      await rm(one.dir, { recursive: true, force: true });
    }
  }, 40_000);
});

async function killAndTakeOver(one: TestServer, two: TestServer): Promise<void> {
  {
    const status = async (s: TestServer) => (await getJson<ImportStatusBody>(`${s.adminUrl}/db/_import/status`)).body;
    const ids = [(await status(one)).node, (await status(two)).node];
    const settled = await eventually(async () => {
      const s = await status(two);
      return s.nodes.length === 2 && s.partitions[0]!.owner !== null ? s : false;
    });
    // The assignment gives the only partition to the node with the smaller id.
    const owner = [...ids].sort()[0]!;
    await eventually(async () => (await status(one)).partitions[0]!.owner === owner);
    const [dead, survivor] = owner === ids[0] ? [one, two] : [two, one];
    expect(settled.nodes.map((n) => n.id).sort()).toEqual([...ids].sort());

    const app = new BetterSqlite(join(one.dir, 'db.sqlite'), { timeout: 5000 });
    try {
      await dead.stop('SIGKILL');
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('after-kill', '{"v":1}');
      const started = Date.now();
      // Imported by the survivor once the dead node's lease has expired (8 s), well within 15 s.
      await eventually(async () => {
        const s = await status(survivor);
        return s.partitions[0]!.owner === (owner === ids[0] ? ids[1] : ids[0]) && s.pending === 0 && s.nodes.length === 1;
      }, 15_000);
      expect(Date.now() - started).toBeLessThan(15_000);
      const doc = await getJson(`${survivor.adminUrl}/db/after-kill`);
      expect(doc.status).toBe(200);
      expect(doc.body._rev).toMatch(/^1-/);
    } finally {
      app.close();
    }
  }
}
