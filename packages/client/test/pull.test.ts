import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.ts';
import { Replicator } from '../src/replicator/replicator.ts';
import type { DocumentEvent } from '../src/replicator/worker-context.ts';
import { digestOf, ScriptedPeer, type FeedRevision } from './support/scripted-peer.ts';

const URL = 'ws://peer.test/db';

function pullFrom(peer: ScriptedPeer, store: MemoryStore, extra: Partial<ConstructorParameters<typeof Replicator>[0]> = {}): Replicator {
  return new Replicator({ url: URL, db: store, type: 'pull', connector: peer.connector, retry: { initialDelayMs: 1 }, ...extra });
}

function feedOf(n: number): FeedRevision[] {
  return Array.from({ length: n }, (_, i) => ({ seq: i + 1, id: `doc${i + 1}`, rev: '1-a', body: { n: i + 1 } }));
}

describe('pull', () => {
  it('pulls several batches, answers changes as RevFinder does and saves the checkpoint', async () => {
    const peer = new ScriptedPeer();
    peer.feed = feedOf(450);
    const store = new MemoryStore();
    const repl = pullFrom(peer, store);
    repl.start();
    const status = await repl.whenStopped();

    expect(status.error).toBeUndefined();
    expect(status.documentsPulled).toBe(450);
    expect((await store.getDocument('doc7'))?.body).toEqual({ n: 7 });

    const [get, sub] = [peer.requestsOf('getCheckpoint')[0]!, peer.requestsOf('subChanges')[0]!];
    expect(get.properties.client).toBe(repl.checkpointId);
    expect(sub.properties).toMatchObject({ Profile: 'subChanges', batch: '200', activeOnly: 'true', revocations: 'true' });
    expect(sub.properties.since).toBeUndefined();
    expect(sub.properties.continuous).toBeUndefined();

    expect(peer.changesReplies).toHaveLength(3);
    expect(peer.changesReplies[0]!.properties).toMatchObject({ maxHistory: '20', blobs: 'true' });
    expect(peer.changesReplies[0]!.body).toEqual(Array.from({ length: 200 }, () => []));

    const saved = peer.checkpoints.get(repl.checkpointId);
    expect(JSON.parse(saved!.body)).toEqual({ local: 0, remote: 450 });
  });

  it('resumes from the checkpoint and lists known ancestors for newer revisions', async () => {
    const peer = new ScriptedPeer();
    peer.feed = feedOf(3);
    const store = new MemoryStore();
    const first = pullFrom(peer, store);
    first.start();
    await first.whenStopped();

    peer.feed.push(
      { seq: 4, id: 'doc2', rev: '2-b', history: ['1-a'], body: { n: 22 } },
      { seq: 5, id: 'doc1', rev: '1-a', body: { n: 1 } },
    );
    const second = pullFrom(peer, store);
    second.start();
    await second.whenStopped();

    const sub = peer.requestsOf('subChanges').at(-1)!;
    expect(sub.properties.since).toBe('3');
    expect(sub.properties.activeOnly).toBeUndefined();
    // doc2 wanted with its known ancestor; doc1 1-a already held: a trailing 0, left out.
    expect(peer.changesReplies.at(-1)!.body).toEqual([['1-a']]);
    const doc2 = await store.getDocument('doc2');
    expect(doc2).toMatchObject({ revId: '2-b', history: ['1-a'], body: { n: 22 }, remoteRevId: '2-b' });
    expect(JSON.parse(peer.checkpoints.get(second.checkpointId)!.body)).toEqual({ local: 0, remote: 5 });
  });

  it('inserts tombstones, purges removed and revoked documents, and reports norev', async () => {
    const peer = new ScriptedPeer();
    peer.feed = feedOf(4);
    const store = new MemoryStore();
    const setup = pullFrom(peer, store);
    setup.start();
    await setup.whenStopped();

    peer.feed.push(
      { seq: 5, id: 'doc1', rev: '2-del', history: ['1-a'], flags: 1, body: {} },
      { seq: 6, id: 'doc2', rev: '1-a', flags: 4 },
      { seq: '7:3', id: 'doc3', rev: '1-a', flags: 2 },
      { seq: 8, id: 'doc4', rev: '2-r', history: ['1-a'], body: { _removed: true } },
      { seq: 9, id: 'doc9', rev: '1-x', body: { n: 9 } },
    );
    peer.norevs.add('1-x');
    const events: DocumentEvent[] = [];
    const repl = pullFrom(peer, store);
    repl.on('document', (e) => events.push(e));
    repl.start();
    await repl.whenStopped();

    expect(await store.getDocument('doc1')).toMatchObject({ revId: '2-del', deleted: true });
    expect(await store.getDocument('doc2')).toBeUndefined();
    expect(await store.getDocument('doc3')).toBeUndefined();
    expect(await store.getDocument('doc4')).toBeUndefined();
    expect(peer.changesReplies.at(-1)!.body).toEqual([['1-a'], 0, 0, ['1-a'], []]);
    expect(events.filter((e) => e.purged).map((e) => e.docId).sort()).toEqual(['doc2', 'doc3', 'doc4']);
    expect(events.find((e) => e.docId === 'doc9')?.error?.status).toBe(404);
    expect(JSON.parse(peer.checkpoints.get(repl.checkpointId)!.body)).toEqual({ local: 0, remote: 9 });
  });

  it('fetches blobs it lacks with getAttachment before accepting the revision', async () => {
    const peer = new ScriptedPeer();
    const photo = Buffer.from('picture bytes');
    const inline = Buffer.from('inline blob');
    peer.blobs.set(digestOf(photo), photo);
    peer.blobs.set(digestOf(inline), inline);
    peer.feed = [
      {
        seq: 1,
        id: 'a',
        rev: '1-a',
        body: {
          _attachments: { photo: { digest: digestOf(photo), length: photo.length, content_type: 'image/jpeg', revpos: 1, stub: true } },
          avatar: { '@type': 'blob', digest: digestOf(inline), length: inline.length },
        },
      },
      { seq: 2, id: 'b', rev: '1-b', body: { _attachments: { missing: { digest: 'sha1-nothere', length: 3, stub: true } } } },
    ];
    const store = new MemoryStore();
    const events: DocumentEvent[] = [];
    const repl = pullFrom(peer, store);
    repl.on('document', (e) => events.push(e));
    repl.start();
    await repl.whenStopped();

    const fetched = peer.requestsOf('getAttachment').map((r) => [r.properties.digest, r.properties.docID]);
    expect(fetched).toHaveLength(3);
    expect(fetched).toEqual(
      expect.arrayContaining([
        [digestOf(photo), 'a'],
        [digestOf(inline), 'a'],
        ['sha1-nothere', 'b'],
      ]),
    );
    expect(Buffer.from((await store.getBlob(digestOf(photo)))!).toString()).toBe('picture bytes');
    expect(await store.getDocument('a')).toBeDefined();
    expect(await store.getDocument('b')).toBeUndefined();
    expect(peer.revReplies.filter((c) => c !== undefined)).toEqual([404]);
    expect(events.find((e) => e.docId === 'b')?.error?.status).toBe(404);
  });

  it('sends channel filters and doc IDs in subChanges, continuous, and resumes after a dropped connection', async () => {
    const peer = new ScriptedPeer();
    peer.protocol = 'BLIP_3+CBMobile_2';
    peer.feed = feedOf(2);
    const store = new MemoryStore();
    const repl = pullFrom(peer, store, { continuous: true, channels: ['news', 'sports'], docIds: ['doc1', 'doc2'] });
    repl.start();
    await repl.waitFor((s) => s === 'idle');
    const sub = peer.requestsOf('subChanges')[0]!;
    expect(sub.properties).toMatchObject({ continuous: 'true', filter: 'sync_gateway/bychannel', channels: 'news,sports' });
    expect(sub.properties.revocations).toBeUndefined();
    expect(JSON.parse(sub.body)).toEqual({ docIDs: ['doc1', 'doc2'] });

    peer.feed.push({ seq: 3, id: 'doc1', rev: '2-c', history: ['1-a'], body: { n: 'new' } });
    const offline = repl.waitFor((s) => s === 'offline');
    peer.dropConnection();
    await offline;
    await repl.waitFor((s) => s === 'idle');
    expect(peer.connections).toBe(2);
    expect(peer.requestsOf('subChanges')[1]!.properties.since).toBe('2');
    expect((await store.getDocument('doc1'))?.revId).toBe('2-c');
    await repl.stop();
    expect(repl.state).toBe('stopped');
  });
});
