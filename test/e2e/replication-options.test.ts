/**
 * Server-to-server replication options not covered by replication.test.ts: purge_on_removal (a document the
 * remote user loses access to is purged locally, or kept without the option), and a local restart that resumes
 * from the stored checkpoint instead of pulling everything again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc) { channel(doc.channels); }`;

let remote: TestServer;

beforeAll(async () => {
  remote = await startTestServer({
    logLevel: 'warn',
    databases: { db: { sync: SYNC, users: { puller: { password: 'pullerpass', admin_channels: ['shared'] } } } },
  });
}, 60_000);

afterAll(async () => {
  await remote?.[Symbol.asyncDispose]();
});

const remoteUrl = (): string => `${remote.url.replace(/^http/, 'ws')}/db`;

async function putRemote(id: string, body: Record<string, unknown>): Promise<void> {
  const current = await request('GET', `${remote.adminUrl}/db/${id}`);
  const rev = current.status === 200 ? { _rev: current.body._rev as string } : {};
  expect((await request('PUT', `${remote.adminUrl}/db/${id}`, { ...body, ...rev })).status).toBe(201);
}

async function replicationStatus(server: TestServer, id: string): Promise<any> {
  return (await request('GET', `${server.adminUrl}/db/_replicationStatus/${id}`)).body;
}

describe('purge_on_removal', () => {
  it('purges the local copy of a document moved out of the pulled channels only when asked to', async () => {
    await using purging = await startTestServer({ logLevel: 'warn' });
    await using keeping = await startTestServer({ logLevel: 'warn' });
    await putRemote('moving', { channels: ['shared'], v: 1 });
    const definition = { remote: remoteUrl(), username: 'puller', password: 'pullerpass', direction: 'pull', continuous: true };
    expect((await request('PUT', `${purging.adminUrl}/db/_replication/p`, { ...definition, purge_on_removal: true })).status).toBe(201);
    expect((await request('PUT', `${keeping.adminUrl}/db/_replication/k`, definition)).status).toBe(201);
    for (const node of [purging, keeping]) {
      await eventually(async () => (await request('GET', `${node.adminUrl}/db/moving`)).status === 200);
    }
    // The remote user loses access to the document.
    await putRemote('moving', { channels: ['private'], v: 2 });
    await eventually(async () => (await request('GET', `${purging.adminUrl}/db/moving`)).status === 404);
    await eventually(async () => (await replicationStatus(purging, 'p')).docs_purged === 1);
    // Purged, not deleted: no tombstone is left to push anywhere.
    const changes = await request('GET', `${purging.adminUrl}/db/_changes?since=0`);
    expect(changes.body.results.map((r: { id: string }) => r.id)).not.toContain('moving');
    // Without the option the last revision the user could see stays.
    await eventually(async () => (await replicationStatus(keeping, 'k')).docs_read >= 1);
    const kept = await request('GET', `${keeping.adminUrl}/db/moving`);
    expect(kept.status).toBe(200);
    expect(kept.body.v).toBe(1);
  });
});

describe('checkpoints', () => {
  it('resumes a replication after a local restart from its checkpoint, without pulling everything again', async () => {
    const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `ck-${i}`, channels: ['shared'], n: i }));
    expect((await request('POST', `${remote.adminUrl}/db/_bulk_docs`, { docs })).status).toBe(201);
    let local = await startTestServer({ logLevel: 'warn', keepDir: true });
    const dir = local.dir;
    try {
      const definition = { remote: remoteUrl(), username: 'puller', password: 'pullerpass', direction: 'pull', continuous: true };
      expect((await request('PUT', `${local.adminUrl}/db/_replication/ck`, definition)).status).toBe(201);
      await eventually(async () => (await request('GET', `${local.adminUrl}/db/ck-299`)).status === 200, 30_000);
      await eventually(async () => (await replicationStatus(local, 'ck')).status === 'running');
      // A clean stop saves the checkpoint.
      await local.stop();
      await putRemote('ck-new', { channels: ['shared'], n: 1000 });
      local = await startTestServer({ logLevel: 'warn', dir });
      // The stored definition starts again by itself and picks up only what is new.
      await eventually(async () => (await request('GET', `${local.adminUrl}/db/ck-new`)).status === 200, 30_000);
      const after = await replicationStatus(local, 'ck');
      expect(after.docs_read).toBeLessThan(50);
      expect((await request('GET', `${local.adminUrl}/db/ck-0`)).body._rev).toMatch(/^1-/);
    } finally {
      await local.stop();
      await local[Symbol.asyncDispose]();
    }
  });
});
