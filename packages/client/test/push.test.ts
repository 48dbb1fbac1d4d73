import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.ts';
import { Replicator } from '../src/replicator/replicator.ts';
import type { DocumentEvent } from '../src/replicator/worker-context.ts';
import { digestOf, ScriptedPeer } from './support/scripted-peer.ts';

const URL = 'ws://peer.test/db';

function pushTo(peer: ScriptedPeer, store: MemoryStore, extra: Partial<ConstructorParameters<typeof Replicator>[0]> = {}): Replicator {
  return new Replicator({ url: URL, db: store, type: 'push', connector: peer.connector, retry: { initialDelayMs: 1 }, ...extra });
}

describe('push', () => {
  it('proposes changes, sends accepted revisions, and reports 304, 409 and a 403 per document', async () => {
    const peer = new ScriptedPeer();
    const store = new MemoryStore();
    const a1 = await store.put('a', { n: 1 });
    const a2 = await store.put('a', { n: 2 });
    await store.put('same', { n: 0 });
    await store.put('conflict', { n: 0 });
    await store.put('secret', { forbidden: true });
    await store.put('b', { n: 3 });
    peer.proposeStatus = (entry) => (entry[0] === 'same' ? 304 : entry[0] === 'conflict' ? 409 : 0);
    peer.revStatus = (_props, body) => (body.forbidden === true ? 403 : undefined);
    const events: DocumentEvent[] = [];
    const repl = pushTo(peer, store);
    repl.on('document', (e) => events.push(e));
    repl.start();
    const status = await repl.whenStopped();

    expect(status.error).toBeUndefined();
    const proposed = JSON.parse(peer.requestsOf('proposeChanges')[0]!.body) as unknown[][];
    expect(proposed.map((e) => e.slice(0, 3))).toEqual([
      ['a', a2, ''],
      ['same', expect.any(String), ''],
      ['conflict', expect.any(String), ''],
      ['secret', expect.any(String), ''],
      ['b', expect.any(String), ''],
    ]);
    expect(peer.pushed.map((p) => p.properties.id).sort()).toEqual(['a', 'b']);
    const revA = peer.pushed.find((p) => p.properties.id === 'a')!;
    expect(revA.properties).toMatchObject({ Profile: 'rev', rev: a2, history: a1, noconflicts: 'true' });
    expect(revA.body).toEqual({ n: 2 });

    const errors = Object.fromEntries(events.filter((e) => e.error).map((e) => [e.docId, e.error!.status]));
    expect(errors).toEqual({ conflict: 409, secret: 403 });
    expect(status.documentsPushed).toBe(3);
    expect((await store.getDocument('a'))?.remoteRevId).toBe(a2);
    expect((await store.getDocument('same'))?.remoteRevId).toBeDefined();
    expect(JSON.parse(peer.checkpoints.get(repl.checkpointId)!.body)).toEqual({ local: store.lastSequence, remote: null });
  });

  it('resumes from the checkpoint and proposes the remote ancestor as parent', async () => {
    const peer = new ScriptedPeer();
    const store = new MemoryStore();
    const first = await store.put('a', { n: 1 });
    await store.put('b', { n: 1 });
    const r1 = pushTo(peer, store);
    r1.start();
    await r1.whenStopped();
    const second = await store.put('a', { n: 2 });
    const tomb = await store.delete('b');
    const r2 = pushTo(peer, store);
    r2.start();
    await r2.whenStopped();

    const proposed = JSON.parse(peer.requestsOf('proposeChanges')[1]!.body) as unknown[][];
    expect(proposed.map((e) => e.slice(0, 3))).toEqual([
      ['a', second, first],
      ['b', tomb, expect.any(String)],
    ]);
    const deleted = peer.pushed.find((p) => p.properties.rev === tomb)!;
    expect(deleted.properties.deleted).toBe('1');
    expect(peer.requestsOf('getCheckpoint')).toHaveLength(2);
  });

  it('serves getAttachment and proveAttachment for blobs of revisions being pushed', async () => {
    const peer = new ScriptedPeer();
    const store = new MemoryStore();
    const data = Buffer.from('attachment data');
    const digest = await store.putBlob(data);
    await store.put('doc', { _attachments: { 'a.txt': { digest, length: data.length, content_type: 'text/plain', revpos: 1 } } });
    const repl = pushTo(peer, store);
    repl.start();
    await repl.whenStopped();

    expect(peer.pushed[0]!.body._attachments).toEqual({ 'a.txt': { digest, length: data.length, content_type: 'text/plain', revpos: 1, stub: true } });
    expect(Buffer.from(peer.fetchedFromClient.get(digest)!).toString()).toBe('attachment data');
    expect(digestOf(data)).toBe(digest);

    const other = new ScriptedPeer();
    other.blobs.set(digest, data);
    const fresh = new MemoryStore();
    await fresh.putBlob(data);
    await fresh.put('doc', { _attachments: { 'a.txt': { digest, length: data.length, content_type: 'text/plain', revpos: 1 } } });
    const again = pushTo(other, fresh);
    again.start();
    await again.whenStopped();
    expect(other.proved).toEqual([digest]);
    expect(other.pushed).toHaveLength(1);
  });

  it('pushes new local changes in continuous mode', async () => {
    const peer = new ScriptedPeer();
    const store = new MemoryStore();
    const repl = new Replicator({ url: URL, db: store, type: 'pushAndPull', continuous: true, connector: peer.connector });
    repl.start();
    await repl.waitFor((s) => s === 'idle');
    const busy = repl.waitFor((s) => s === 'busy');
    await store.put('late', { n: 1 });
    await busy;
    await repl.waitFor((s) => s === 'idle');
    expect(peer.pushed.map((p) => p.properties.id)).toEqual(['late']);
    await repl.stop();
    expect(repl.state).toBe('stopped');
  });
});
