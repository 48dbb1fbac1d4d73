/**
 * The client package's Replicator against the real server over a WebSocket: the Basic auth challenge,
 * a pull limited to the user's channels (one-shot, then resumed from the checkpoint), a push whose
 * rejected revision fails only that document, and a blob pushed and pulled back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, Replicator, type DocumentEvent } from '@syncline/client';
import { request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc, oldDoc) {
  if (doc.forbidden) throw({forbidden: 'not allowed'});
  channel(doc.channels);
}`;
const ALICE = { username: 'alice', password: 'alicepass' };

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
    ...Array.from({ length: 12 }, (_, i) => ({ _id: `news-${i}`, channels: ['news'], n: i })),
    ...Array.from({ length: 4 }, (_, i) => ({ _id: `sports-${i}`, channels: ['sports'], n: i })),
  ];
  const res = await request('POST', `${server.adminUrl}/db/_bulk_docs`, { docs });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const dbUrl = (): string => `${server.url.replace(/^http/, 'ws')}/db`;

async function runOnce(repl: Replicator): Promise<void> {
  repl.start();
  const status = await repl.whenStopped();
  expect(status.error).toBeUndefined();
}

describe('Replicator against the server', () => {
  it('pulls as a user only the documents of its channels, and resumes from the checkpoint', async () => {
    const store = new MemoryStore();
    await runOnce(new Replicator({ url: dbUrl(), db: store, type: 'pull', auth: ALICE }));
    expect(store.docIds.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `news-${i}`).sort());
    expect((await store.getDocument('news-3'))?.body).toMatchObject({ n: 3, channels: ['news'] });

    const put = await request('PUT', `${server.adminUrl}/db/news-3`, { _rev: (await store.getDocument('news-3'))!.revId, channels: ['news'], n: 33 });
    expect(put.status).toBe(201);
    await request('PUT', `${server.adminUrl}/db/sports-x`, { channels: ['sports'] });
    const events: DocumentEvent[] = [];
    const again = new Replicator({ url: dbUrl(), db: store, type: 'pull', auth: ALICE });
    again.on('document', (e) => events.push(e));
    await runOnce(again);
    expect(events.map((e) => e.docId)).toEqual(['news-3']);
    expect((await store.getDocument('news-3'))?.body).toMatchObject({ n: 33 });
  });

  it('pushes with proposeChanges; a revision the sync function rejects fails only that document', async () => {
    const store = new MemoryStore();
    await store.put('pushed-1', { channels: ['news'], n: 1 });
    await store.put('pushed-bad', { channels: ['news'], forbidden: true });
    const blob = Buffer.from('hello blob');
    const digest = await store.putBlob(blob);
    await store.put('pushed-att', { channels: ['news'], _attachments: { 'h.txt': { digest, length: blob.length, content_type: 'text/plain' } } });
    const events: DocumentEvent[] = [];
    const repl = new Replicator({ url: dbUrl(), db: store, type: 'push', auth: ALICE });
    repl.on('document', (e) => events.push(e));
    await runOnce(repl);
    expect(events.filter((e) => e.error).map((e) => [e.docId, e.error!.status])).toEqual([['pushed-bad', 403]]);

    const doc = await request('GET', `${server.adminUrl}/db/pushed-1`);
    expect(doc.body).toMatchObject({ n: 1 });
    const att = await fetch(`${server.adminUrl}/db/pushed-att/h.txt`);
    expect(await att.text()).toBe('hello blob');

    const other = new MemoryStore();
    await runOnce(new Replicator({ url: dbUrl(), db: other, type: 'pull', auth: ALICE, docIds: ['pushed-att'] }));
    expect(Buffer.from((await other.getBlob(digest))!).toString()).toBe('hello blob');
  });

  it('pushes 200 documents with new blobs in one batch: revisions waiting for getAttachment do not stall the connection', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`blob number ${i} `.repeat(50));
      const digest = await store.putBlob(data);
      await store.put(`blobby-${i}`, { channels: ['news'], photo: { '@type': 'blob', digest, length: data.length, content_type: 'text/plain' } });
    }
    const repl = new Replicator({ url: dbUrl(), db: store, type: 'push', auth: ALICE });
    await runOnce(repl);
    expect(repl.status.documentsPushed).toBe(200);
    const att = await fetch(`${server.adminUrl}/db/blobby-199/blob_/photo`);
    expect(await att.text()).toBe('blob number 199 '.repeat(50));
  });

  it('stops with the HTTP status when the credentials are wrong', async () => {
    const repl = new Replicator({ url: dbUrl(), db: new MemoryStore(), type: 'pull', auth: { username: 'alice', password: 'wrong' } });
    repl.start();
    const status = await repl.whenStopped();
    expect(status.error).toMatchObject({ status: 401 });
  });
});
