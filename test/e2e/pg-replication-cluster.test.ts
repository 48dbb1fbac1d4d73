import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { eventually, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

/**
 * A server-to-server replication defined on a Syncline cluster: two nodes N1 and N2 on one PostgreSQL database
 * push continuously to a separate Syncline R (on SQLite). The replication runs on exactly one node (the one
 * holding its lease record), any node reports the same status, and when the running node is killed the other
 * takes it over, every document reaching R exactly once.
 */

const REPLICATION = 'to-remote';
const TAKEOVER_BOUND_MS = 15_000;
const LEASE_KEY = `_sync:replication:lease:${REPLICATION}`;

interface ReplicationStatus {
  replication_id: string;
  status: string;
  direction: string;
  continuous: boolean;
  remote: string;
  docs_written: number;
  doc_write_failures: number;
  last_error: string | null;
  node: string | null;
  started_at: string | null;
}

let pgs: TestPostgres;
let dbUrl: string;
let n1: TestServer;
let n2: TestServer;
let remote: TestServer;
const ids = new Map<TestServer, string>();
/** Every document written on the cluster, by id: the revision it got there. */
const written = new Map<string, string>();

beforeAll(async () => {
  pgs = await startPostgres();
  dbUrl = await pgs.createDatabase('replcluster');
  const dbConfig = {
    server: dbUrl,
    enable_shared_bucket_access: true,
    import_docs: true,
    sync: `function (doc, oldDoc) { channel(doc.channels || 'all'); }`,
    users: { GUEST: { disabled: false, admin_channels: ['*'] } },
  };
  // One after the other: the first creates the tables, the second finds them. Info logs: the runs are counted.
  n1 = await startTestServer({ logLevel: 'info', databases: { db: dbConfig } });
  n2 = await startTestServer({ logLevel: 'info', databases: { db: dbConfig } });
  remote = await startTestServer({ logLevel: 'warn' });
  for (const node of [n1, n2]) ids.set(node, (await request('GET', `${node.adminUrl}/db/`)).body.server_uuid as string);
}, 120_000);

afterAll(async () => {
  for (const node of [n1, n2, remote]) await node?.stop().catch(() => {});
  await pgs?.close();
});

const idOf = (node: TestServer): string => ids.get(node)!;

async function status(node: TestServer): Promise<ReplicationStatus> {
  const res = await request<ReplicationStatus>('GET', `${node.adminUrl}/db/_replicationStatus/${REPLICATION}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** The live lease record in PostgreSQL: the node it names and its version (bumped by every renewal). */
async function lease(): Promise<{ node: string; version: number } | null> {
  const rows = await pgs.query<{ value: string; version: string }>(dbUrl, 'SELECT value, version FROM db.records WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)', [LEASE_KEY, Date.now()]);
  return rows[0] ? { node: (JSON.parse(rows[0].value) as { node: string }).node, version: Number(rows[0].version) } : null;
}

const leaseHolder = async (): Promise<string | null> => (await lease())?.node ?? null;

/** How many times a node logged starting the replication. */
const runsStarted = (node: TestServer): number =>
  node.output.filter((line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; replication?: string };
      return entry.msg === 'replication starting' && entry.replication === REPLICATION;
    } catch {
      return false;
    }
  }).length;

async function write(node: TestServer, id: string): Promise<void> {
  const res = await request('PUT', `${node.url}/db/${id}`, { from: idOf(node), id });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  written.set(id, res.body.rev as string);
}

/** R's changes feed by document id; fails on an id listed twice. */
async function remoteChanges(): Promise<Map<string, string>> {
  const res = await request('GET', `${remote.adminUrl}/db/_changes?since=0`);
  expect(res.status).toBe(200);
  const out = new Map<string, string>();
  for (const entry of res.body.results as Array<{ id: string; changes: Array<{ rev: string }> }>) {
    expect(out.has(entry.id), `${entry.id} listed twice on R`).toBe(false);
    out.set(entry.id, entry.changes[0]!.rev);
  }
  return out;
}

/** Waits until R has every written document, then checks each is there once, at the revision written. */
async function expectAllOnRemote(timeoutMs: number): Promise<void> {
  const seen = await eventually(async () => {
    const changes = await remoteChanges();
    return [...written.keys()].every((id) => changes.has(id)) ? changes : undefined;
  }, timeoutMs, 200);
  expect(seen.size).toBe(written.size);
  const mismatched = [...written].filter(([id, rev]) => seen.get(id) !== rev);
  expect(mismatched).toEqual([]);
  expect([...seen.values()].filter((rev) => !rev.startsWith('1-'))).toEqual([]);
}

/** The parts of a status that must not depend on the node asked. */
const shared = (s: ReplicationStatus) => ({
  replication_id: s.replication_id,
  status: s.status,
  direction: s.direction,
  continuous: s.continuous,
  remote: s.remote,
  node: s.node,
  started_at: s.started_at,
  docs_written: s.docs_written,
  doc_write_failures: s.doc_write_failures,
  last_error: s.last_error,
});

let runner: TestServer;
let other: TestServer;

describe('server-to-server replication on a PostgreSQL cluster', () => {
  it('runs a continuous push on exactly one node and delivers writes made on either node', async () => {
    const [id1, id2] = [idOf(n1), idOf(n2)];
    expect(id1).not.toBe(id2);
    const created = await request('PUT', `${n1.adminUrl}/db/_replication/${REPLICATION}`, {
      remote: `${remote.url.replace(/^http/, 'ws')}/db`,
      direction: 'push',
      continuous: true,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // The definition is visible on the other node too.
    expect((await request('GET', `${n2.adminUrl}/db/_replication/${REPLICATION}`)).status).toBe(200);

    const running = await eventually(async () => {
      const s = await status(n1);
      return s.status === 'running' && (s.node === id1 || s.node === id2) ? s : undefined;
    }, 20_000, 100);
    [runner, other] = running.node === id1 ? [n1, n2] : [n2, n1];
    expect(await leaseHolder()).toBe(running.node);

    for (let i = 0; i < 20; i++) {
      await write(n1, `n1-${i}`);
      await write(n2, `n2-${i}`);
    }
    await expectAllOnRemote(20_000);

    // Let three lease renewals pass (each node runs a lease round as often as the holder renews), then: only
    // the lease holder ever started it, the other node never did.
    const renewed = (await lease())!.version;
    await eventually(async () => {
      const now = await lease();
      return now !== null && now.version >= renewed + 3;
    }, 20_000, 200);
    expect(runsStarted(runner)).toBe(1);
    expect(runsStarted(other)).toBe(0);
    expect(await leaseHolder()).toBe(idOf(runner));
  });

  it('reports the same status on both nodes', async () => {
    const [fromN1, fromN2] = await eventually(async () => {
      const both = await Promise.all([status(n1), status(n2)]);
      return JSON.stringify(shared(both[0])) === JSON.stringify(shared(both[1])) && both[0].docs_written === written.size ? both : undefined;
    }, 10_000, 200);
    expect(shared(fromN1)).toEqual(shared(fromN2));
    expect(fromN1).toMatchObject({ status: 'running', node: idOf(runner), direction: 'push', continuous: true, doc_write_failures: 0, last_error: null });
  });

  it(`is taken over within ${TAKEOVER_BOUND_MS / 1000} s when its node is killed, each document reaching R exactly once`, async () => {
    const survivor = other;
    const survivorId = idOf(survivor);
    // Written on the running node just before it dies: they may not have been pushed yet.
    for (let i = 0; i < 10; i++) await write(runner, `before-kill-${i}`);
    await runner.stop('SIGKILL');
    const killedAt = Date.now();

    // Keep writing on the survivor while it takes the replication over.
    let stop = false;
    let count = 0;
    const writer = (async () => {
      while (!stop) {
        await write(survivor, `after-kill-${String(count++).padStart(4, '0')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    try {
      await eventually(async () => {
        const s = await status(survivor);
        return s.status === 'running' && s.node === survivorId ? s : undefined;
      }, TAKEOVER_BOUND_MS - (Date.now() - killedAt), 100);
      expect(await leaseHolder()).toBe(survivorId);
      // A few more writes after the takeover, while the survivor is running it.
      const target = count + 20;
      await eventually(async () => count >= target, 20_000, 20);
    } finally {
      stop = true;
      await writer;
    }
    expect(count).toBeGreaterThan(20);

    await expectAllOnRemote(30_000);
    expect(runsStarted(survivor)).toBe(1);
    const final = await eventually(async () => {
      const s = await status(survivor);
      return s.docs_written > 0 && s.status === 'running' ? s : undefined;
    }, 10_000);
    expect(final).toMatchObject({ node: survivorId, doc_write_failures: 0, last_error: null });
  });
});
