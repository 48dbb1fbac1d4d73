/**
 * The replicator maps inline blobs to `_attachments` as Couchbase Lite does: pushed revisions carry
 * `blob_/<path>` shadow stubs, pulled revisions lose them, and the blob bytes still travel both ways.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.ts';
import { Replicator } from '../src/replicator/replicator.ts';
import { digestOf, ScriptedPeer } from './support/scripted-peer.ts';

const URL = 'ws://peer.test/db';

function run(peer: ScriptedPeer, store: MemoryStore, type: 'push' | 'pull'): Promise<unknown> {
  const repl = new Replicator({ url: URL, db: store, type, connector: peer.connector, retry: { initialDelayMs: 1 } });
  repl.start();
  return repl.whenStopped();
}

describe('blob shadows', () => {
  it('pushes a shadow _attachments stub per inline blob and serves its bytes, leaving the stored body alone', async () => {
    const peer = new ScriptedPeer();
    const store = new MemoryStore();
    const photo = Buffer.from('photo bytes');
    const thumb = Buffer.from('thumb');
    const [pd, td] = [await store.putBlob(photo), await store.putBlob(thumb)];
    const body = {
      photo: { '@type': 'blob', digest: pd, length: photo.length, content_type: 'image/jpeg' },
      gallery: [{ thumb: { '@type': 'blob', digest: td, length: thumb.length, content_type: 'image/png' } }],
    };
    await store.put('doc', body);
    const rev2 = await store.put('doc', { ...body, title: 'second' });
    await run(peer, store, 'push');

    expect(peer.pushed).toHaveLength(1);
    expect(peer.pushed[0]!.body).toEqual({
      ...body,
      title: 'second',
      _attachments: {
        'blob_/photo': { stub: true, digest: pd, length: photo.length, content_type: 'image/jpeg', revpos: 2 },
        'blob_/gallery/0/thumb': { stub: true, digest: td, length: thumb.length, content_type: 'image/png', revpos: 2 },
      },
    });
    expect(peer.pushed[0]!.properties.rev).toBe(rev2);
    expect(Buffer.from(peer.fetchedFromClient.get(pd)!).toString()).toBe('photo bytes');
    expect((await store.getDocument('doc'))?.body).toEqual({ ...body, title: 'second' });
  });

  it('drops pulled shadows of inline blobs, keeps other attachments, and still fetches every blob', async () => {
    const peer = new ScriptedPeer();
    const photo = Buffer.from('photo bytes');
    const pouch = Buffer.from('from pouchdb');
    peer.blobs.set(digestOf(photo), photo);
    peer.blobs.set(digestOf(pouch), pouch);
    const blob = { '@type': 'blob', digest: digestOf(photo), length: photo.length, content_type: 'image/jpeg' };
    const stub = (digest: string, length: number) => ({ stub: true, digest, length, content_type: 'application/octet-stream', revpos: 1 });
    peer.feed = [
      { seq: 1, id: 'only-blob', rev: '1-a', body: { photo: blob, _attachments: { 'blob_/photo': stub(blob.digest, photo.length) } } },
      {
        seq: 2,
        id: 'mixed',
        rev: '1-b',
        body: { list: [blob], _attachments: { 'blob_/list/0': stub(blob.digest, photo.length), 'p.bin': stub(digestOf(pouch), pouch.length) } },
      },
    ];
    const store = new MemoryStore();
    await run(peer, store, 'pull');

    expect((await store.getDocument('only-blob'))?.body).toEqual({ photo: blob });
    expect((await store.getDocument('mixed'))?.body).toEqual({ list: [blob], _attachments: { 'p.bin': stub(digestOf(pouch), pouch.length) } });
    expect(Buffer.from((await store.getBlob(digestOf(photo)))!).toString()).toBe('photo bytes');
    expect(Buffer.from((await store.getBlob(digestOf(pouch)))!).toString()).toBe('from pouchdb');
  });
});
