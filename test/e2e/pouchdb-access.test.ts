/**
 * PouchDB (from npm) replicating as an authenticated user: it receives only its channels, a channel granted
 * later reaches a client that has already synced past those documents, and a revocation is announced in the
 * feed as a removal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryPouch, PouchDB } from '../support/pouch.ts';
import { request, basicAuth } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc, oldDoc) {
  channel(doc.channels);
  if (doc.type === 'membership') access(doc.user, doc.channel);
}`;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    databases: {
      db: {
        sync: SYNC,
        users: {
          alice: { password: 'alicepass', admin_channels: ['news'] },
          bob: { password: 'bobpass', admin_channels: ['sports'] },
        },
      },
    },
  });
  const docs = [
    ...Array.from({ length: 20 }, (_, i) => ({ _id: `news-${i}`, channels: ['news'], n: i })),
    ...Array.from({ length: 15 }, (_, i) => ({ _id: `sports-${i}`, channels: ['sports'], n: i })),
    ...Array.from({ length: 10 }, (_, i) => ({ _id: `secret-${i}`, channels: ['secret'], n: i })),
  ];
  const res = await request('POST', `${server.adminUrl}/db/_bulk_docs`, { docs });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

function remoteAs(user: string, password: string): PouchDB.Database {
  return new PouchDB(`${server.url}/db`, { auth: { username: user, password } } as any);
}

async function localIds(db: PouchDB.Database): Promise<string[]> {
  return (await db.allDocs()).rows.map((r) => r.id).sort();
}

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`).sort();

describe('PouchDB replicating as a user', () => {
  it('pulls only the documents of its channels', async () => {
    const alice = memoryPouch('alice');
    const result = await alice.replicate.from(remoteAs('alice', 'alicepass'));
    expect(result.ok).toBe(true);
    expect(await localIds(alice)).toEqual(range('news', 20));
    const bob = memoryPouch('bob');
    await bob.replicate.from(remoteAs('bob', 'bobpass'));
    expect(await localIds(bob)).toEqual(range('sports', 15));
  });

  it('refuses a wrong password', async () => {
    const local = memoryPouch('intruder');
    await expect(local.replicate.from(remoteAs('alice', 'wrong'))).rejects.toMatchObject({ status: 401 });
    expect(await localIds(local)).toEqual([]);
  });

  it('receives a channel granted later, although it already synced past those documents, and learns of a revocation', async () => {
    const local = memoryPouch('alice-grant');
    const remote = remoteAs('alice', 'alicepass');
    await local.replicate.from(remote);
    expect(await localIds(local)).toEqual(range('news', 20));

    // A membership document grants alice the "secret" channel.
    const grant = await request('PUT', `${server.adminUrl}/db/membership-alice`, { type: 'membership', user: 'alice', channel: 'secret', channels: [] });
    expect(grant.status).toBe(201);
    await local.replicate.from(remote);
    expect(await localIds(local)).toEqual([...range('news', 20), ...range('secret', 10)].sort());

    // Deleting the membership revokes it: the feed tells the client to purge those documents.
    const checkpoint = (await remote.info()).update_seq;
    const revoke = await request('DELETE', `${server.adminUrl}/db/membership-alice?rev=${grant.body.rev}`);
    expect(revoke.status).toBe(200);
    const feed = await request('GET', `${server.url}/db/_changes?since=${checkpoint}`, undefined, {
      ...basicAuth('alice', 'alicepass'),
    });
    expect(feed.status).toBe(200);
    const removed = feed.body.results.filter((e: { removed?: string[] }) => e.removed?.includes('secret')).map((e: { id: string }) => e.id).sort();
    expect(removed).toEqual(range('secret', 10));
    // Replicating again does not fail on the removals.
    const again = await local.replicate.from(remote);
    expect(again.ok).toBe(true);
  });

  it('a live replication receives documents granted while it runs', async () => {
    const local = memoryPouch('bob-live');
    const remote = remoteAs('bob', 'bobpass');
    await local.replicate.from(remote);
    const live = local.replicate.from(remote, { live: true, retry: true });
    try {
      const grant = await request('PUT', `${server.adminUrl}/db/membership-bob`, { type: 'membership', user: 'bob', channel: 'news', channels: [] });
      expect(grant.status).toBe(201);
      const deadline = Date.now() + 20_000;
      while ((await localIds(local)).length < 35 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await localIds(local)).toEqual([...range('news', 20), ...range('sports', 15)].sort());
    } finally {
      live.cancel();
    }
  });
});
