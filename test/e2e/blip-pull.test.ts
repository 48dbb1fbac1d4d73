/**
 * Couchbase Lite replication over BLIP, server side: the WebSocket handshake (challenge, subprotocols),
 * checkpoints and pulls (one-shot, resumed, continuous, deletions, removals), driven by a scripted BLIP client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { request, basicAuth } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';
import { blipUrl, type BlipTestClient, CBMOBILE_2, CBMOBILE_3, connectBlip, openSocket, until, type ConnectOptions } from '../support/blip-client.ts';

const SYNC = `function (doc, oldDoc) { channel(doc.channels); }`;
const ALICE = { username: 'alice', password: 'alicepass' };
const BOB = { username: 'bob', password: 'bobpass' };

let server: TestServer;
const clients: BlipTestClient[] = [];

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
    ...Array.from({ length: 25 }, (_, i) => ({ _id: `news-${i}`, channels: ['news'], n: i })),
    ...Array.from({ length: 5 }, (_, i) => ({ _id: `sports-${i}`, channels: ['sports'], n: i })),
    ...Array.from({ length: 5 }, (_, i) => ({ _id: `secret-${i}`, channels: ['secret'], n: i })),
  ];
  const res = await request('POST', `${server.adminUrl}/db/_bulk_docs`, { docs });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await server?.[Symbol.asyncDispose]();
});

async function connect(opts: ConnectOptions = { auth: ALICE }): Promise<BlipTestClient> {
  const client = await connectBlip(server.url, 'db', opts);
  clients.push(client);
  return client;
}

async function putAdmin(id: string, body: Record<string, unknown>): Promise<string> {
  const res = await request('PUT', `${server.adminUrl}/db/${id}`, body);
  expect(res.status).toBe(201);
  return res.body.rev as string;
}

const idsOf = (client: BlipTestClient): string[] => [...new Set(client.revs.map((r) => r.properties.id!))].sort();
const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`).sort();

/** A one-shot pull from `since`; resolves once caught up and every requested revision arrived. */
async function pull(client: BlipTestClient, properties: Record<string, string | number | boolean> = {}): Promise<void> {
  const reply = await client.request({ profile: 'subChanges', properties: { batch: 10, ...properties } });
  expect(reply.error).toBeUndefined();
  await until(() => client.caughtUp > 0, 'caught up');
  const wanted = (): number => client.entries.filter((e) => client.answer(e) !== 0).length;
  await until(() => client.revs.length + client.norevs.length >= wanted(), 'requested revisions');
}

describe('BLIP handshake', () => {
  it('challenges a client without credentials, then accepts Basic auth with the newest subprotocol', async () => {
    const first = await openSocket(blipUrl(server.url, 'db'), { protocols: [CBMOBILE_3] });
    expect('refused' in first && first.refused.status).toBe(401);
    if (!('refused' in first)) throw new Error('expected a refusal');
    expect(first.refused.headers['www-authenticate']).toMatch(/^Basic realm="/);

    const client = await connect({ auth: ALICE, protocols: [CBMOBILE_3, CBMOBILE_2] });
    expect(client.protocol).toBe(CBMOBILE_3);
    const older = await connect({ auth: ALICE, protocols: [CBMOBILE_2] });
    expect(older.protocol).toBe(CBMOBILE_2);
  });

  it('refuses wrong credentials, an unknown database and unsupported subprotocols before upgrading', async () => {
    const wrong = await openSocket(blipUrl(server.url, 'db'), { auth: { username: 'alice', password: 'nope' } });
    expect('refused' in wrong && wrong.refused.status).toBe(401);
    const unknown = await openSocket(blipUrl(server.url, 'nodb'), { auth: ALICE });
    expect('refused' in unknown && unknown.refused.status).toBe(404);
    const old = await openSocket(blipUrl(server.url, 'db'), { auth: ALICE, protocols: ['BLIP_3+CBMobile_1', 'chat'] });
    if (!('refused' in old)) throw new Error('expected a refusal');
    expect(old.refused.status).toBe(400);
    expect(old.refused.body).toContain('BLIP_3+CBMobile_3');
  });
});

describe('checkpoints', () => {
  it('stores a checkpoint per client with revision checks', async () => {
    const client = await connect();
    const missing = await client.request({ profile: 'getCheckpoint', properties: { client: 'cp-1' } });
    expect(missing.error).toMatchObject({ domain: 'HTTP', code: 404 });

    const set = await client.request({ profile: 'setCheckpoint', properties: { client: 'cp-1' }, body: JSON.stringify({ remote: 12, local: 3 }) });
    expect(set.error).toBeUndefined();
    const rev = set.properties.rev!;
    expect(rev).toMatch(/^0-\d+$/);

    const got = await client.request({ profile: 'getCheckpoint', properties: { client: 'cp-1' } });
    expect(got.error).toBeUndefined();
    expect(got.properties.rev).toBe(rev);
    expect(got.bodyJSON()).toEqual({ remote: 12, local: 3 });

    const stale = await client.request({ profile: 'setCheckpoint', properties: { client: 'cp-1', rev: '0-999' }, body: '{"remote":13}' });
    expect(stale.error).toMatchObject({ domain: 'HTTP', code: 409 });
    const noRev = await client.request({ profile: 'setCheckpoint', properties: { client: 'cp-1' }, body: '{"remote":13}' });
    expect(noRev.error).toMatchObject({ code: 409 });
    const next = await client.request({ profile: 'setCheckpoint', properties: { client: 'cp-1', rev }, body: '{"remote":"14:2"}' });
    expect(next.error).toBeUndefined();
    expect(next.properties.rev).not.toBe(rev);
    const again = await client.request({ profile: 'getCheckpoint', properties: { client: 'cp-1' } });
    expect(again.bodyJSON()).toEqual({ remote: '14:2' });
  });
});

describe('pull', () => {
  it('sends a user only the documents of its channels, in batches, then an empty changes message', async () => {
    const client = await connect();
    await pull(client);
    expect(idsOf(client)).toEqual(range('news', 25));
    expect(client.revs).toHaveLength(25);
    const batches = client.changes.filter((c) => c.entries.length > 0);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    for (const b of batches) expect(b.entries.length).toBeLessThanOrEqual(10);
    const entry = client.entries[0]!;
    expect(entry).toHaveLength(3);
    expect(typeof entry[0]).toBe('number');
    const rev = client.revsOf('news-3')[0]!;
    expect(rev.properties.rev).toMatch(/^1-/);
    expect(rev.properties.sequence).toMatch(/^\d+$/);
    expect(rev.properties.deleted).toBeUndefined();
    expect(rev.body).toEqual({ channels: ['news'], n: 3 });

    const bob = await connect({ auth: BOB });
    await pull(bob);
    expect(idsOf(bob)).toEqual(range('sports', 5));
  });

  it('honours the channel filter and a doc-ID list', async () => {
    await putAdmin('mixed-1', { channels: ['news', 'sports'] });
    const byChannel = await connect({ auth: BOB });
    await pull(byChannel, { filter: 'sync_gateway/bychannel', channels: 'news,sports' });
    expect(idsOf(byChannel)).toEqual([...range('sports', 5), 'mixed-1'].sort());

    const byId = await connect();
    await byId.request({ profile: 'subChanges', properties: { batch: 10 }, body: JSON.stringify({ docIDs: ['news-1', 'news-2', 'sports-1'] }) });
    await until(() => byId.caughtUp > 0 && byId.revs.length >= 2, 'doc-ID pull');
    expect(idsOf(byId)).toEqual(['news-1', 'news-2']);

    const bad = await byId.request({ profile: 'subChanges', properties: { filter: 'app/custom' } });
    expect(bad.error).toMatchObject({ domain: 'HTTP', code: 400 });
  });

  it('resumes from a checkpointed sequence without re-sending, and sends only missing history', async () => {
    const first = await connect();
    await pull(first);
    const last = first.entries[first.entries.length - 1]![0] as number | string;
    await first.request({ profile: 'setCheckpoint', properties: { client: 'resume' }, body: JSON.stringify({ remote: last }) });

    const rev1 = (await request('GET', `${server.adminUrl}/db/news-0`)).body._rev as string;
    await putAdmin('news-0', { _rev: rev1, channels: ['news'], n: 0, edited: true });
    await putAdmin('news-new', { channels: ['news'] });

    const second = await connect();
    const cp = await second.request({ profile: 'getCheckpoint', properties: { client: 'resume' } });
    const since = (cp.bodyJSON() as { remote: number | string }).remote;
    second.answer = (entry) => (entry[1] === 'news-0' ? [rev1] : []);
    await pull(second, { since: JSON.stringify(since) });
    expect(idsOf(second)).toEqual(['news-0', 'news-new']);
    const edited = second.revsOf('news-0')[0]!;
    expect(edited.properties.rev).toMatch(/^2-/);
    expect(edited.properties.history).toBe(rev1);
    expect(edited.body).toEqual({ channels: ['news'], n: 0, edited: true });
  });

  it('keeps a continuous pull open and sends documents written afterwards, deletions included', async () => {
    const client = await connect();
    const reply = await client.request({ profile: 'subChanges', properties: { continuous: true, batch: 50 } });
    expect(reply.error).toBeUndefined();
    await until(() => client.caughtUp > 0, 'caught up');
    await until(() => client.revs.length >= client.entries.length, 'backlog revisions');

    const res = await request('PUT', `${server.url}/db/live-1`, { channels: ['news'], live: true }, {
      ...basicAuth('alice', 'alicepass'),
    });
    expect(res.status).toBe(201);
    await until(() => client.revsOf('live-1').length > 0, 'live-1 to arrive');
    expect(client.revsOf('live-1')[0]!.body).toEqual({ channels: ['news'], live: true });

    await putAdmin('sports-live', { channels: ['sports'] });
    const del = await request('DELETE', `${server.adminUrl}/db/live-1?rev=${res.body.rev as string}`);
    expect(del.status).toBe(200);
    await until(() => client.revsOf('live-1').length > 1, 'the deletion to arrive');
    const tombstone = client.revsOf('live-1')[1]!;
    expect(tombstone.properties.deleted).toBe('1');
    expect(tombstone.properties.history).toBe(res.body.rev);
    const entry = client.entries.find((e) => e[1] === 'live-1' && e[2] === tombstone.properties.rev)!;
    expect([1, 5]).toContain(entry[3]);
    expect(client.revsOf('sports-live')).toHaveLength(0);
  });

  it('announces a document that left the user\'s channels as a removal (CBMobile_3) or a _removed revision (CBMobile_2)', async () => {
    const rev = await putAdmin('moving', { channels: ['news'] });
    const v3 = await connect();
    const v2 = await connect({ auth: ALICE, protocols: [CBMOBILE_2] });
    await Promise.all([
      v3.request({ profile: 'subChanges', properties: { continuous: true, revocations: true } }),
      v2.request({ profile: 'subChanges', properties: { continuous: true } }),
    ]);
    await until(() => v3.revsOf('moving').length > 0 && v2.revsOf('moving').length > 0, 'moving to arrive');
    const rev2 = await putAdmin('moving', { _rev: rev, channels: ['sports'] });

    await until(() => v3.entries.some((e) => e[1] === 'moving' && e[2] === rev2), 'the removal entry');
    const removal = v3.entries.find((e) => e[1] === 'moving' && e[2] === rev2)!;
    expect(removal[3]).toBe(4);
    expect(v3.revsOf('moving')).toHaveLength(1);

    await until(() => v2.revsOf('moving').length > 1, 'the _removed revision');
    const removed = v2.revsOf('moving')[1]!;
    expect(removed.properties.rev).toBe(rev2);
    expect(removed.body).toEqual({ _removed: true });
  });
});

describe('connection robustness', () => {
  it('answers an unknown profile with a BLIP 404 and keeps working', async () => {
    const client = await connect();
    const reply = await client.request({ profile: 'frobnicate' });
    expect(reply.error).toMatchObject({ domain: 'BLIP', code: 404 });
    const cp = await client.request({ profile: 'getCheckpoint', properties: { client: 'nobody' } });
    expect(cp.error).toMatchObject({ domain: 'HTTP', code: 404 });
  });

  it('closes only the connection that sends garbage or text frames', async () => {
    const healthy = await connect();
    const garbage = await connect();
    garbage.ws.send(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02, 0x03]), { binary: true });
    await until(() => garbage.closed !== undefined, 'the garbage connection to close');
    expect(garbage.closed!.code).not.toBe(1000);

    const texter = await openSocket(blipUrl(server.url, 'db'), { auth: ALICE });
    if (!('ws' in texter)) throw new Error('expected an open socket');
    const closed = new Promise<number>((resolve) => texter.ws.once('close', (code) => resolve(code)));
    texter.ws.send('hello');
    expect(await closed).toBe(1003);
    expect(texter.ws.readyState).toBe(WebSocket.CLOSED);

    const reply = await healthy.request({ profile: 'getCheckpoint', properties: { client: 'still-here' } });
    expect(reply.error).toMatchObject({ code: 404 });
    await pull(healthy, { filter: 'sync_gateway/bychannel', channels: 'news' });
    expect(healthy.revs.length).toBeGreaterThan(0);
  });
});
