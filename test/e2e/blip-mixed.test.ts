/**
 * Mixed clients on one database: PouchDB (REST replication) and the client package's Replicator (BLIP) see
 * each other's writes, updates and deletions, as the same user or as different users. Attachments cross
 * both ways: a PouchDB attachment reaches the BLIP client's blob store byte for byte, and a Couchbase
 * Lite-style inline blob reaches PouchDB as the attachment `blob_/<path>`, and comes back intact after
 * PouchDB edits the document. A BLIP client that sends no `blob_/` shadows gets them added by the server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, Replicator, type JsonObject } from '@syncline/client';
import { connectBlip } from '../support/blip-client.ts';
import { memoryPouch, PouchDB } from '../support/pouch.ts';
import { eventually, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

type User = { username: string; password: string };
type PouchDoc = PouchDB.Core.ExistingDocument<Record<string, unknown>> & { _attachments?: Record<string, { digest?: string; length?: number }> };

const ALICE: User = { username: 'alice', password: 'alicepass' };
const BOB: User = { username: 'bob', password: 'bobpass' };

let server: TestServer;
const replicators: Replicator[] = [];
const pouchSyncs: PouchDB.Replication[] = [];

beforeAll(async () => {
  server = await startTestServer({
    databases: {
      db: {
        users: {
          alice: { password: 'alicepass', admin_channels: ['*'] },
          bob: { password: 'bobpass', admin_channels: ['*'] },
        },
      },
    },
  });
});

afterAll(async () => {
  for (const s of pouchSyncs) s.cancel();
  for (const r of replicators) await r.stop().catch(() => undefined);
  await server?.[Symbol.asyncDispose]();
});

const sha1 = (data: Uint8Array): string => `sha1-${createHash('sha1').update(data).digest('base64')}`;
const wsDbUrl = (): string => `${server.url.replace(/^http/, 'ws')}/db`;
const remoteFor = (user: User): PouchDB.Database => new PouchDB(`${server.url}/db`, { auth: user });

/** A BLIP client kept in continuous push-and-pull (of every document: continuous subChanges takes no docIDs). */
async function liveBlipClient(user: User): Promise<MemoryStore> {
  const store = new MemoryStore();
  const repl = new Replicator({ url: wsDbUrl(), db: store, type: 'pushAndPull', continuous: true, auth: user });
  replicators.push(repl);
  repl.start();
  const status = await repl.waitFor((s) => s === 'idle' || s === 'stopped');
  expect(status.error).toBeUndefined();
  return store;
}

/** A local PouchDB kept in live two-way sync with the server, limited to `docIds`. */
function livePouch(user: User, docIds: string[]): PouchDB.Database {
  const local = memoryPouch('mixed');
  const sync = local.sync(remoteFor(user), { live: true, retry: true, doc_ids: docIds });
  pouchSyncs.push(sync);
  return local;
}

async function pouchDoc(db: PouchDB.Database, id: string): Promise<PouchDoc | undefined> {
  try {
    return (await db.get(id)) as PouchDoc;
  } catch {
    return undefined;
  }
}

async function blipBody(store: MemoryStore, id: string): Promise<JsonObject | undefined> {
  const doc = await store.getDocument(id);
  return doc && !doc.deleted ? doc.body : undefined;
}

const blipDeleted = async (store: MemoryStore, id: string): Promise<boolean> => (await store.getDocument(id))?.deleted === true;
const pouchDeleted = async (db: PouchDB.Database, id: string): Promise<boolean> => (await pouchDoc(db, id)) === undefined;

describe.each([
  { title: 'as the same user', blipUser: ALICE, pouchUser: ALICE, prefix: 'same' },
  { title: 'as different users', blipUser: ALICE, pouchUser: BOB, prefix: 'diff' },
])('PouchDB and the BLIP replicator $title', ({ blipUser, pouchUser, prefix }) => {
  it("see each other's new documents, updates and deletions", async () => {
    const [fromBlip, fromPouch] = [`${prefix}-from-blip`, `${prefix}-from-pouch`];
    const ids = [fromBlip, fromPouch];
    const store = await liveBlipClient(blipUser);
    const pouch = livePouch(pouchUser, ids);

    await store.put(fromBlip, { text: 'written over BLIP' });
    await pouch.put({ _id: fromPouch, text: 'written by PouchDB' });
    expect(await eventually(() => pouchDoc(pouch, fromBlip))).toMatchObject({ text: 'written over BLIP' });
    expect(await eventually(() => blipBody(store, fromPouch))).toEqual({ text: 'written by PouchDB' });

    // Each side edits the other's document.
    await store.put(fromPouch, { text: 'edited over BLIP' });
    const theirs = (await pouchDoc(pouch, fromBlip))!;
    await pouch.put({ ...theirs, text: 'edited by PouchDB' });
    await eventually(async () => (await pouchDoc(pouch, fromPouch))?.text === 'edited over BLIP');
    await eventually(async () => (await blipBody(store, fromBlip))?.text === 'edited by PouchDB');

    // Each side deletes the document it created.
    await store.delete(fromBlip);
    await pouch.remove((await pouchDoc(pouch, fromPouch))!);
    await eventually(() => pouchDeleted(pouch, fromBlip));
    await eventually(() => blipDeleted(store, fromPouch));
    expect((await request('GET', `${server.adminUrl}/db/${fromBlip}`)).status).toBe(404);
    expect((await request('GET', `${server.adminUrl}/db/${fromPouch}`)).status).toBe(404);
  });

  it('carry attachments both ways: PouchDB attachments as blobs, inline blobs as blob_/ attachments', async () => {
    const [pouchAtt, blipBlob] = [`${prefix}-pouch-att`, `${prefix}-blip-blob`];
    const ids = [pouchAtt, blipBlob];
    const store = await liveBlipClient(blipUser);
    const pouch = livePouch(pouchUser, ids);

    // A binary PouchDB attachment arrives in the BLIP client's blob store, byte for byte.
    const image = randomBytes(4096);
    await pouch.put({ _id: pouchAtt, kind: 'pouch', _attachments: { 'image.bin': { content_type: 'application/octet-stream', data: image } } });
    const pulled = await eventually(() => blipBody(store, pouchAtt));
    const meta = (pulled._attachments as Record<string, { digest: string; length: number }>)['image.bin']!;
    expect(meta).toMatchObject({ digest: sha1(image), length: image.length });
    expect(Buffer.from((await store.getBlob(meta.digest))!).equals(image)).toBe(true);

    // Inline blobs pushed over BLIP arrive in PouchDB as attachments named after their paths.
    const photo = randomBytes(3000);
    const thumb = Buffer.from('a small thumbnail');
    const photoBlob = { '@type': 'blob', digest: await store.putBlob(photo), length: photo.length, content_type: 'image/jpeg' };
    const thumbBlob = { '@type': 'blob', digest: await store.putBlob(thumb), length: thumb.length, content_type: 'text/plain' };
    await store.put(blipBlob, { title: 'holiday', photo: photoBlob, gallery: [{ thumb: thumbBlob }] });
    const arrived = await eventually(() => pouchDoc(pouch, blipBlob));
    expect(arrived).toMatchObject({ title: 'holiday', photo: photoBlob, gallery: [{ thumb: thumbBlob }] });
    expect(Object.keys(arrived._attachments ?? {}).sort()).toEqual(['blob_/gallery/0/thumb', 'blob_/photo']);
    expect(Buffer.from((await pouch.getAttachment(blipBlob, 'blob_/photo')) as Buffer).equals(photo)).toBe(true);
    expect(Buffer.from((await pouch.getAttachment(blipBlob, 'blob_/gallery/0/thumb')) as Buffer).equals(thumb)).toBe(true);

    // PouchDB edits the document; the BLIP client gets the edit with its blobs intact and no shadows.
    await pouch.put({ ...arrived, title: 'holiday, edited in PouchDB' });
    const edited = await eventually(async () => {
      const body = await blipBody(store, blipBlob);
      return body?.title === 'holiday, edited in PouchDB' ? body : undefined;
    });
    expect(edited).toEqual({ title: 'holiday, edited in PouchDB', photo: photoBlob, gallery: [{ thumb: thumbBlob }] });
    expect(Buffer.from((await store.getBlob(photoBlob.digest))!).equals(photo)).toBe(true);

    // And a later BLIP edit goes back to PouchDB with the attachment still readable.
    await store.put(blipBlob, { ...edited, title: 'holiday, edited again over BLIP' });
    await eventually(async () => (await pouchDoc(pouch, blipBlob))?.title === 'holiday, edited again over BLIP');
    expect(Buffer.from((await pouch.getAttachment(blipBlob, 'blob_/photo')) as Buffer).equals(photo)).toBe(true);
  });
});

describe('a BLIP client that sends inline blobs without blob_/ shadows', () => {
  it('has the server fetch the bytes and store them as blob_/<path> attachments for REST clients', async () => {
    const client = await connectBlip(server.url, 'db', { auth: ALICE });
    try {
      const data = Buffer.from('bytes of a blob from a client without shadows');
      const digest = sha1(data);
      client.blobs.set(digest, data);
      const body = { nested: { list: [{ '@type': 'blob', digest, length: data.length, content_type: 'text/plain' }] } };
      const reply = await client.request({ profile: 'rev', properties: { id: 'no-shadows', rev: '1-abc', noconflicts: 'true' }, body: JSON.stringify(body) });
      expect(reply.error).toBeUndefined();
      expect(client.attachmentRequests).toMatchObject([{ profile: 'getAttachment', properties: { digest } }]);

      const doc = await request('GET', `${server.adminUrl}/db/no-shadows`);
      expect(doc.body).toMatchObject({ ...body, _attachments: { 'blob_/nested/list/0': { digest, length: data.length, content_type: 'text/plain', stub: true } } });
      const att = await fetch(`${server.adminUrl}/db/no-shadows/blob_/nested/list/0`);
      expect(Buffer.from(await att.arrayBuffer()).equals(data)).toBe(true);

      const pouch = memoryPouch('no-shadows');
      await pouch.replicate.from(remoteFor(BOB), { doc_ids: ['no-shadows'] });
      expect(Buffer.from((await pouch.getAttachment('no-shadows', 'blob_/nested/list/0')) as Buffer).equals(data)).toBe(true);
    } finally {
      await client.close();
    }
  });
});
