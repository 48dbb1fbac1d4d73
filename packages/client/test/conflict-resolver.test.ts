import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/index.ts';
import { defaultConflictWinner, insertPulledRevision } from '../src/replicator/conflict-resolver.ts';

/** A store holding `doc` at 1-a (known to the remote), for conflicts with remote revisions grafted on 1-a. */
async function storeWithBase(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.insertRevision({ docId: 'doc', revId: '1-a', history: [], body: { v: 'base' }, deleted: false });
  return store;
}

describe('conflict resolution after a pull', () => {
  it('follows the default rules: deletion wins, then the higher generation, a tie goes to the remote', () => {
    expect(defaultConflictWinner({ revId: '5-x', deleted: false }, { revId: '2-y', deleted: true })).toBe('remote');
    expect(defaultConflictWinner({ revId: '2-x', deleted: true }, { revId: '5-y', deleted: false })).toBe('local');
    expect(defaultConflictWinner({ revId: '3-x', deleted: false }, { revId: '2-y', deleted: false })).toBe('local');
    expect(defaultConflictWinner({ revId: '2-z', deleted: false }, { revId: '2-a', deleted: false })).toBe('remote');
  });

  it('a remote revision that descends from the local one is no conflict', async () => {
    const store = await storeWithBase();
    expect(await insertPulledRevision(store, { docId: 'doc', revId: '2-b', history: ['1-a'], body: { v: 'next' }, deleted: false })).toBeUndefined();
    expect(await store.getDocument('doc')).toMatchObject({ revId: '2-b', history: ['1-a'], remoteRevId: '2-b' });
  });

  it('the remote winning drops the local branch', async () => {
    const store = await storeWithBase();
    const mine = await store.put('doc', { v: 'mine' });
    expect(await insertPulledRevision(store, { docId: 'doc', revId: '2-b', history: ['1-a'], body: { v: 'theirs' }, deleted: false })).toBe('remote');
    expect(await store.getDocument('doc')).toMatchObject({ revId: '2-b', body: { v: 'theirs' }, remoteRevId: '2-b' });
    expect(await store.hasRevision('doc', mine)).toBe(false);
    expect(await store.possibleAncestors('doc', '9-z', 10)).toEqual(['2-b']);
  });

  it('the local winning becomes a new revision on top of the remote one, to be pushed', async () => {
    const store = await storeWithBase();
    await store.put('doc', { v: 'mine' });
    const mine = await store.put('doc', { v: 'mine again' });
    const before = store.lastSequence;
    expect(await insertPulledRevision(store, { docId: 'doc', revId: '2-b', history: ['1-a'], body: { v: 'theirs' }, deleted: false })).toBe('local');
    const doc = (await store.getDocument('doc'))!;
    expect(doc).toMatchObject({ body: { v: 'mine again' }, history: ['2-b', '1-a'], remoteRevId: '2-b', deleted: false });
    expect(doc.revId).toMatch(/^3-/);
    expect(doc.revId).not.toBe(mine);
    expect(await store.hasRevision('doc', mine)).toBe(false);
    expect(await store.changesSince(before, 10)).toEqual([{ sequence: doc.sequence, docId: 'doc', revId: doc.revId, deleted: false }]);
  });
});
