import { describe, expect, it } from 'vitest';
import { byCodePoint, save, type ContractEnv } from './contract-support.ts';

export function changesContract(env: ContractEnv): void {
  describe('readChanges', () => {
    it('returns one entry per document, its latest, in sequence order', async () => {
      const a1 = await save(env.coll, 'a', { channels: ['x'] });
      const b1 = await save(env.coll, 'b', { channels: ['x'] });
      const a2 = await save(env.coll, 'a', { rev: '2-a', channels: ['x', 'y'] });
      const changes = await env.coll.readChanges({ since: 0 });
      expect(changes).toEqual([
        { seq: b1.seq, id: 'b', rev: '1-a', deleted: false, channels: ['x'], removed: [] },
        { seq: a2.seq, id: 'a', rev: '2-a', deleted: false, channels: ['x', 'y'], removed: [] },
      ]);
      expect(a1.seq).toBeLessThan(b1.seq);
    });

    it('treats since as exclusive and honours limit', async () => {
      const seqs: number[] = [];
      for (const id of ['a', 'b', 'c', 'd']) seqs.push((await save(env.coll, id)).seq);
      const [s0 = 0, s1 = 0, s2 = 0, s3 = 0] = seqs;
      expect((await env.coll.readChanges({ since: s0 })).map((c) => c.seq)).toEqual([s1, s2, s3]);
      expect((await env.coll.readChanges({ since: s0, limit: 2 })).map((c) => c.id)).toEqual(['b', 'c']);
      expect(await env.coll.readChanges({ since: s3 })).toEqual([]);
    });

    it('filters by channels, including channels the document was removed from', async () => {
      await save(env.coll, 'a', { channels: ['red'] });
      await save(env.coll, 'b', { channels: ['blue'] });
      await save(env.coll, 'c', { channels: [] });
      const moved = await save(env.coll, 'a', { rev: '2-a', channels: ['green'], removed: ['red'] });
      expect((await env.coll.readChanges({ since: 0, channels: ['red'] }))).toEqual([
        { seq: moved.seq, id: 'a', rev: '2-a', deleted: false, channels: ['green'], removed: ['red'] },
      ]);
      expect((await env.coll.readChanges({ since: 0, channels: ['blue', 'green'] })).map((c) => c.id)).toEqual([
        'b',
        'a',
      ]);
      expect(await env.coll.readChanges({ since: 0, channels: ['none'] })).toEqual([]);
      expect(await env.coll.readChanges({ since: 0, channels: [] })).toEqual([]);
      expect((await env.coll.readChanges({ since: 0, channels: ['blue', 'green'], limit: 1 })).map((c) => c.id)).toEqual([
        'b',
      ]);
    });

    it('does not match a channel the latest revision no longer mentions', async () => {
      await save(env.coll, 'a', { channels: ['old'] });
      await save(env.coll, 'a', { rev: '2-a', channels: ['new'] });
      expect(await env.coll.readChanges({ since: 0, channels: ['old'] })).toEqual([]);
    });

    it('filters by document ids, alone and with channels', async () => {
      await save(env.coll, 'a', { channels: ['x'] });
      await save(env.coll, 'b', { channels: ['y'] });
      await save(env.coll, 'c', { channels: ['x'] });
      expect((await env.coll.readChanges({ since: 0, docIds: ['c', 'a', 'zz'] })).map((c) => c.id)).toEqual(['a', 'c']);
      expect((await env.coll.readChanges({ since: 0, docIds: ['a', 'b'], channels: ['y'] })).map((c) => c.id)).toEqual([
        'b',
      ]);
    });

    it('returns the current metadata with each entry when asked to', async () => {
      await save(env.coll, 'a');
      await save(env.coll, 'b', { channels: ['x'] });
      await save(env.coll, 'a', { rev: '2-a', body: null });
      const changes = await env.coll.readChanges({ since: 0, withMeta: true });
      expect(changes.map((c) => [c.id, c.meta])).toEqual([
        ['b', (await env.coll.get('b'))?.meta],
        ['a', (await env.coll.get('a'))?.meta],
      ]);
      expect((await env.coll.readChanges({ since: 0, withMeta: true, channels: ['x'], docIds: ['b'] })).map((c) => c.id)).toEqual(['b']);
    });

    it('reports tombstones as deleted', async () => {
      await save(env.coll, 'a', { channels: ['x'] });
      const del = await save(env.coll, 'a', { body: null, rev: '2-a', channels: ['x'] });
      expect(await env.coll.readChanges({ since: 0, channels: ['x'] })).toEqual([
        { seq: del.seq, id: 'a', rev: '2-a', deleted: true, channels: ['x'], removed: [] },
      ]);
    });
  });
}

export function scanContract(env: ContractEnv): void {
  describe('scanMeta and countLive', () => {
    const ids = ['b', 'a', 'B', 'é', '_x', 'a0', '\u{1F600}', '\uFF01', 'aa'];
    const sorted = [...ids].sort(byCodePoint);
    const scanIds = async (query: Parameters<typeof env.coll.scanMeta>[0]): Promise<string[]> =>
      (await env.coll.scanMeta(query)).map((row) => row.id);

    it('orders by code point, ascending and descending', async () => {
      for (const id of ids) await save(env.coll, id);
      expect(await scanIds({})).toEqual(sorted);
      expect(await scanIds({ descending: true })).toEqual([...sorted].reverse());
    });

    it('returns the metadata row fields', async () => {
      const result = await save(env.coll, 'a');
      expect(await env.coll.scanMeta({})).toEqual([
        { id: 'a', meta: JSON.stringify({ rev: '1-a', seq: result.seq }), metaCas: result.metaCas, seq: result.seq, deleted: false },
      ]);
    });

    it('applies startKey, endKey and inclusiveEnd', async () => {
      for (const id of ['a', 'b', 'c', 'd', 'e']) await save(env.coll, id);
      expect(await scanIds({ startKey: 'b', endKey: 'd' })).toEqual(['b', 'c', 'd']);
      expect(await scanIds({ startKey: 'b', endKey: 'd', inclusiveEnd: false })).toEqual(['b', 'c']);
      expect(await scanIds({ startKey: 'bb' })).toEqual(['c', 'd', 'e']);
      expect(await scanIds({ endKey: 'b' })).toEqual(['a', 'b']);
      expect(await scanIds({ startKey: 'd', endKey: 'b', descending: true })).toEqual(['d', 'c', 'b']);
      expect(await scanIds({ startKey: 'd', endKey: 'b', descending: true, inclusiveEnd: false })).toEqual(['d', 'c']);
      expect(await scanIds({ startKey: 'z' })).toEqual([]);
    });

    it('applies skip and limit', async () => {
      for (const id of ['a', 'b', 'c', 'd', 'e']) await save(env.coll, id);
      expect(await scanIds({ skip: 1, limit: 2 })).toEqual(['b', 'c']);
      expect(await scanIds({ descending: true, skip: 1, limit: 3 })).toEqual(['d', 'c', 'b']);
      expect(await scanIds({ skip: 10 })).toEqual([]);
      expect(await scanIds({ limit: 0 })).toEqual([]);
    });

    it('leaves out tombstones unless includeDeleted, and counts live documents', async () => {
      for (const id of ['a', 'b', 'c']) await save(env.coll, id);
      await save(env.coll, 'b', { body: null, rev: '2-b' });
      expect(await scanIds({})).toEqual(['a', 'c']);
      const all = await env.coll.scanMeta({ includeDeleted: true });
      expect(all.map((r) => [r.id, r.deleted])).toEqual([['a', false], ['b', true], ['c', false]]);
      expect(await env.coll.countLive()).toBe(2);
    });
  });
}
