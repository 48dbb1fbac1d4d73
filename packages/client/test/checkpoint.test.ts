import { describe, expect, it } from 'vitest';
import { checkpointId } from '../src/replicator/checkpoint-id.ts';
import { Replicator } from '../src/replicator/replicator.ts';
import { encodeChangesAnswer } from '../src/replicator/puller.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import { ScriptedPeer } from './support/scripted-peer.ts';

describe('checkpoint ID', () => {
  it('depends on the local UUID, the remote URL and the filter options', () => {
    const base = { localUuid: 'u1', remoteUrl: 'ws://h/db/_blipsync' };
    const id = checkpointId(base);
    expect(id).toMatch(/^cp-[A-Za-z0-9+/]{27}=$/);
    expect(checkpointId(base)).toBe(id);
    expect(checkpointId({ ...base, localUuid: 'u2' })).not.toBe(id);
    expect(checkpointId({ ...base, remoteUrl: 'ws://h/other/_blipsync' })).not.toBe(id);
    expect(checkpointId({ ...base, channels: ['a'] })).not.toBe(id);
    expect(checkpointId({ ...base, channels: [] })).toBe(id);
    expect(checkpointId({ ...base, docIds: ['x'] })).not.toBe(checkpointId({ ...base, channels: ['x'] }));
  });
});

describe('changes answer encoding', () => {
  it('writes an array per entry and leaves out trailing zeros', () => {
    expect(encodeChangesAnswer([0, [], ['1-a'], 0, 0])).toBe('[0,[],["1-a"]]');
    expect(encodeChangesAnswer([0, 0])).toBe('[]');
  });
});

describe('checkpoint exchange', () => {
  it('reads with getCheckpoint, saves with setCheckpoint and the previous rev, and starts over when the copies disagree', async () => {
    const peer = new ScriptedPeer();
    peer.feed = [{ seq: 1, id: 'a', rev: '1-a', body: {} }];
    const store = new MemoryStore('uuid-1');
    const run = async (): Promise<Replicator> => {
      const repl = new Replicator({ url: 'ws://peer.test/db', db: store, type: 'pull', connector: peer.connector });
      repl.start();
      await repl.whenStopped();
      return repl;
    };
    const first = await run();
    const id = first.checkpointId;
    expect(peer.requestsOf('getCheckpoint').map((r) => r.properties.client)).toEqual([id]);
    const set1 = peer.requestsOf('setCheckpoint')[0]!;
    expect(set1.properties.client).toBe(id);
    expect(set1.properties.rev).toBeUndefined();
    expect(JSON.parse(set1.body)).toEqual({ local: 0, remote: 1 });

    peer.feed.push({ seq: 2, id: 'b', rev: '1-b', body: {} });
    await run();
    expect(peer.requestsOf('subChanges')[1]!.properties.since).toBe('1');
    const set2 = peer.requestsOf('setCheckpoint')[1]!;
    expect(set2.properties.rev).toBe('0-1');

    // The peer lost its copy: start from scratch (LiteCore validates the remote checkpoint against the local one).
    peer.checkpoints.clear();
    await run();
    const sub = peer.requestsOf('subChanges')[2]!;
    expect(sub.properties.since).toBeUndefined();
    expect(sub.properties.activeOnly).toBe('true');
  });

  it('retries setCheckpoint once after a 409 with the current rev', async () => {
    const peer = new ScriptedPeer();
    peer.feed = [{ seq: 1, id: 'a', rev: '1-a', body: {} }];
    const store = new MemoryStore('uuid-2');
    const repl = new Replicator({ url: 'ws://peer.test/db', db: store, type: 'pull', connector: peer.connector });
    peer.checkpoints.set(repl.checkpointId, { rev: '0-7', body: '{"local":0,"remote":null}' });
    // Another writer updates the peer's copy after the replicator read it.
    repl.on('status', (s) => {
      if (s.state === 'busy') peer.checkpoints.set(repl.checkpointId, { rev: '0-8', body: '{"local":0,"remote":null}' });
    });
    repl.start();
    const status = await repl.whenStopped();
    expect(status.error).toBeUndefined();
    const sets = peer.requestsOf('setCheckpoint');
    expect(sets.map((s) => s.properties.rev)).toEqual(['0-7', '0-8']);
    expect(JSON.parse(peer.checkpoints.get(repl.checkpointId)!.body)).toEqual({ local: 0, remote: 1 });
  });
});
