/**
 * Couchbase Lite replication over BLIP, push side: proposeChanges, incoming revs (updates, conflicts,
 * deletions, sync-function rejections), attachments fetched with getAttachment or proved with
 * proveAttachment, and pushed documents reaching other users' pulls by channel.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';
import { type BlipTestClient, connectBlip, until, type ConnectOptions } from '../support/blip-client.ts';

const SYNC = `function (doc, oldDoc) {
  if (doc.forbidden) throw({forbidden: "nope"});
  channel(doc.channels);
}`;
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

const revId = (generation: number, seed: string): string => `${generation}-${createHash('md5').update(seed).digest('hex')}`;
const sha1 = (data: Buffer): string => `sha1-${createHash('sha1').update(data).digest('base64')}`;

async function propose(client: BlipTestClient, entries: unknown[][]): Promise<unknown> {
  const reply = await client.request({ profile: 'proposeChanges', body: JSON.stringify(entries) });
  expect(reply.error).toBeUndefined();
  return reply.bodyJSON();
}

async function sendRev(client: BlipTestClient, properties: Record<string, string>, body: Record<string, unknown>) {
  return client.request({ profile: 'rev', properties, body: JSON.stringify(body) });
}

async function getAdmin(id: string, query = ''): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request('GET', `${server.adminUrl}/db/${encodeURIComponent(id)}${query}`);
  return { status: res.status, body: res.body as Record<string, unknown> };
}

describe('BLIP push', () => {
  it('pushes new documents: proposeChanges answers [] (all zeros omitted), revs land with their IDs', async () => {
    const client = await connect();
    const r1 = revId(1, 'p1');
    const r2 = revId(1, 'p2');
    expect(await propose(client, [['push-1', r1], ['push-2', r2, '', 20]])).toEqual([]);
    const a = await sendRev(client, { id: 'push-1', rev: r1, noconflicts: 'true', sequence: '1' }, { channels: ['news'], n: 1 });
    expect(a.error).toBeUndefined();
    const b = await sendRev(client, { id: 'push-2', rev: r2, noconflicts: 'true', sequence: '2' }, { channels: ['news'], n: 2 });
    expect(b.error).toBeUndefined();
    const doc = await getAdmin('push-1');
    expect(doc.status).toBe(200);
    expect(doc.body).toMatchObject({ _id: 'push-1', _rev: r1, channels: ['news'], n: 1 });
  });

  it('answers 304 for a revision the server has, 409 for a stale parent, 0 for the winner as parent', async () => {
    const client = await connect();
    const r1 = revId(1, 'u1');
    const r2 = revId(2, 'u2');
    await sendRev(client, { id: 'upd', rev: r1 }, { channels: ['news'], v: 1 });
    const r2b = revId(2, 'u2b');
    expect(await propose(client, [['upd', r2, r1], ['upd', r1], ['new-one', revId(1, 'x')]])).toEqual([0, 304]);
    const ok = await sendRev(client, { id: 'upd', rev: r2, history: r1, noconflicts: 'true' }, { channels: ['news'], v: 2 });
    expect(ok.error).toBeUndefined();
    expect((await getAdmin('upd')).body).toMatchObject({ _rev: r2, v: 2 });
    // r1 is no longer the winner: proposing a sibling of r2 conflicts.
    expect(await propose(client, [['push-1', revId(2, 'zz'), revId(1, 'p1')], ['upd', r2b, r1]])).toEqual([0, 409]);
    // The same revision sent anyway with noconflicts is refused with 409, and the document is unchanged.
    const refused = await sendRev(client, { id: 'upd', rev: r2b, history: r1, noconflicts: 'true' }, { channels: ['news'], v: 3 });
    expect(refused.error).toMatchObject({ domain: 'HTTP', code: 409 });
    expect((await getAdmin('upd')).body).toMatchObject({ _rev: r2, v: 2 });
    // Re-sending a revision the server has succeeds without change.
    const again = await sendRev(client, { id: 'upd', rev: r2, history: r1, noconflicts: 'true' }, { channels: ['news'], v: 2 });
    expect(again.error).toBeUndefined();
  });

  it('answers a sync-function rejection with an HTTP 403 for that rev only; the connection carries on', async () => {
    const client = await connect();
    const bad = revId(1, 'bad');
    const good = revId(1, 'good');
    const refused = await sendRev(client, { id: 'rejected', rev: bad, noconflicts: 'true' }, { forbidden: true, channels: ['news'] });
    expect(refused.error).toMatchObject({ domain: 'HTTP', code: 403 });
    expect(refused.error?.message).toContain('nope');
    expect((await getAdmin('rejected')).status).toBe(404);
    const accepted = await sendRev(client, { id: 'accepted', rev: good, noconflicts: 'true' }, { channels: ['news'] });
    expect(accepted.error).toBeUndefined();
    expect((await getAdmin('accepted')).body).toMatchObject({ _rev: good });
  });

  it('pushes a deletion', async () => {
    const client = await connect();
    const r1 = revId(1, 'd1');
    const r2 = revId(2, 'd2');
    await sendRev(client, { id: 'to-delete', rev: r1, noconflicts: 'true' }, { channels: ['news'] });
    expect(await propose(client, [['to-delete', r2, r1]])).toEqual([]);
    const del = await sendRev(client, { id: 'to-delete', rev: r2, history: r1, deleted: '1', noconflicts: 'true' }, {});
    expect(del.error).toBeUndefined();
    expect((await getAdmin('to-delete')).status).toBe(404);
    const tomb = await getAdmin('to-delete', `?rev=${r2}`);
    expect(tomb.body).toMatchObject({ _rev: r2, _deleted: true });
    // Recreating a deleted document without a parent is allowed, as Sync Gateway does.
    expect(await propose(client, [['to-delete', revId(1, 'again')]])).toEqual([]);
  });

  it('fetches a missing attachment with getAttachment and checks its digest; proves one it already has', async () => {
    const client = await connect();
    const data = Buffer.from('hello attachment bytes');
    const digest = sha1(data);
    client.blobs.set(digest, data);
    const r1 = revId(1, 'att');
    const stub = { stub: true, digest, length: data.length, content_type: 'text/plain', revpos: 1 };
    const reply = await sendRev(client, { id: 'with-att', rev: r1, noconflicts: 'true' }, { channels: ['news'], _attachments: { 'hello.txt': stub } });
    expect(reply.error).toBeUndefined();
    expect(client.attachmentRequests).toMatchObject([{ profile: 'getAttachment', properties: { digest, docID: 'with-att' } }]);
    const att = await request('GET', `${server.adminUrl}/db/with-att/hello.txt`);
    expect(att.status).toBe(200);
    expect((await getAdmin('with-att')).body._attachments).toMatchObject({ 'hello.txt': { digest, length: data.length, stub: true } });

    // A second document referencing the same bytes: the server asks for a proof instead of the bytes.
    const r2 = revId(1, 'att2');
    const again = await sendRev(client, { id: 'with-att-2', rev: r2, noconflicts: 'true' }, { channels: ['news'], _attachments: { 'copy.txt': stub } });
    expect(again.error).toBeUndefined();
    expect(client.attachmentRequests.map((r) => r.profile)).toEqual(['getAttachment', 'proveAttachment']);

    // A client that cannot prove it holds the bytes does not get to reference them.
    const liar = await connect();
    const refused = await sendRev(liar, { id: 'with-att-3', rev: revId(1, 'att3'), noconflicts: 'true' }, { channels: ['news'], _attachments: { 'x.txt': stub } });
    expect(refused.error).toMatchObject({ domain: 'HTTP', code: 400 });
    expect((await getAdmin('with-att-3')).status).toBe(404);

    // Bytes that do not match the digest are refused.
    const other = await connect();
    const wrong = Buffer.from('something else');
    const wrongDigest = sha1(Buffer.from('never stored'));
    other.blobs.set(wrongDigest, wrong);
    const bad = await sendRev(other, { id: 'bad-att', rev: revId(1, 'bad-att'), noconflicts: 'true' }, {
      channels: ['news'],
      _attachments: { 'b.txt': { stub: true, digest: wrongDigest, length: wrong.length, revpos: 1 } },
    });
    expect(bad.error).toMatchObject({ domain: 'HTTP', code: 400 });
  });

  it('answers changes from older clients with the revisions it wants and possible ancestors', async () => {
    const client = await connect();
    const r1 = revId(1, 'u1');
    const reply = await client.request({ profile: 'changes', body: JSON.stringify([[1, 'upd', r1], [2, 'upd', revId(3, 'u3')], [3, 'brand-new', revId(1, 'n')]]) });
    expect(reply.error).toBeUndefined();
    const answer = reply.bodyJSON() as unknown[];
    expect(answer[0]).toBe(0);
    expect(answer[1]).toEqual(expect.arrayContaining([revId(2, 'u2')]));
    expect(answer[2]).toEqual([]);
  });

  it("delivers a user's pushed document to another user's pull only when in their channels", async () => {
    const alice = await connect({ auth: ALICE });
    const sportsRev = revId(1, 'sports-push');
    const newsRev = revId(1, 'news-push');
    await sendRev(alice, { id: 'pushed-sports', rev: sportsRev, noconflicts: 'true' }, { channels: ['sports'] });
    await sendRev(alice, { id: 'pushed-news', rev: newsRev, noconflicts: 'true' }, { channels: ['news'] });
    const bob = await connect({ auth: BOB });
    const sub = await bob.request({ profile: 'subChanges', properties: { batch: 10 } });
    expect(sub.error).toBeUndefined();
    await until(() => bob.caughtUp > 0, 'caught up');
    await until(() => bob.revs.length >= bob.entries.length, 'revisions');
    const ids = bob.revs.map((r) => r.properties.id);
    expect(ids).toContain('pushed-sports');
    expect(ids).not.toContain('pushed-news');
    expect(bob.revsOf('pushed-sports')[0]?.properties.rev).toBe(sportsRev);
  });
});
