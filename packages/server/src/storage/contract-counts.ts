import { describe, expect, it } from 'vitest';
import { makeCommit, save, type ContractEnv } from './contract-support.ts';

export function countContract(env: ContractEnv): void {
  describe('countLive', () => {
    it('follows creations, tombstones, resurrections, metadata-only commits and purges', async () => {
      expect(await env.coll.countLive()).toBe(0);
      for (const id of ['a', 'b', 'c']) await save(env.coll, id);
      expect(await env.coll.countLive()).toBe(3);
      await save(env.coll, 'b', { rev: '2-b', body: null });
      expect(await env.coll.countLive()).toBe(2);
      await save(env.coll, 'b', { rev: '3-b', body: null });
      expect(await env.coll.countLive()).toBe(2);
      await save(env.coll, 'a', { rev: '2-a', body: undefined });
      expect(await env.coll.countLive()).toBe(2);
      await save(env.coll, 'b', { rev: '4-b' });
      expect(await env.coll.countLive()).toBe(3);
      await save(env.coll, 'c', { rev: '2-c', body: null });
      expect(await env.coll.purge('c')).toBe(true);
      expect(await env.coll.countLive()).toBe(2);
      expect(await env.coll.purge('a')).toBe(true);
      expect(await env.coll.purge('nothing')).toBe(false);
      expect(await env.coll.countLive()).toBe(1);
      await save(env.coll, 'tomb', { body: null });
      expect(await env.coll.countLive()).toBe(1);
      expect((await env.coll.scanMeta({})).length).toBe(await env.coll.countLive());
    });

    it('counts only the commits of a batch that succeed, and nothing of a batch that throws', async () => {
      const b = await save(env.coll, 'b');
      const results = await env.coll.commitMany([
        makeCommit('n1', { expectedBodyCas: null, expectedMetaCas: null }),
        makeCommit('b', { expectedBodyCas: null, expectedMetaCas: null }),
        makeCommit('n1', { expectedBodyCas: null, expectedMetaCas: null }),
        makeCommit('b', { expectedBodyCas: b.bodyCas, expectedMetaCas: b.metaCas, rev: '2-b', body: null }),
        makeCommit('n2', { expectedBodyCas: null, expectedMetaCas: null, body: null }),
      ]);
      expect(results.map((r) => r.ok)).toEqual([true, false, false, true, true]);
      expect(await env.coll.countLive()).toBe(1);
      const bad = { ...makeCommit('x', { expectedBodyCas: null, expectedMetaCas: null }), build: () => { throw new Error('nope'); } };
      await expect(env.coll.commitMany([makeCommit('y', { expectedBodyCas: null, expectedMetaCas: null }), bad])).rejects.toThrow('nope');
      expect(await env.coll.countLive()).toBe(1);
    });

    it('keeps a count per collection', async () => {
      const other = await env.bucket.collection('inventory.counted');
      await save(env.coll, 'a');
      await save(other, 'a');
      await save(other, 'b');
      expect(await env.coll.countLive()).toBe(1);
      expect(await other.countLive()).toBe(2);
      await other.purge('a');
      expect(await other.countLive()).toBe(1);
      expect(await env.coll.countLive()).toBe(1);
    });
  });
}
