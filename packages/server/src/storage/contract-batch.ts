import { describe, expect, it } from 'vitest';
import { expectOk, makeCommit, save, type ContractEnv } from './contract-support.ts';

export function commitManyContract(env: ContractEnv): void {
  describe('commitMany', () => {
    it('commits several documents with ascending sequences, each checked on its own', async () => {
      const existing = await save(env.coll, 'exists');
      const results = await env.coll.commitMany([
        makeCommit('n1', { expectedBodyCas: null, expectedMetaCas: null, channels: ['c'] }),
        makeCommit('exists', { expectedBodyCas: null, expectedMetaCas: null }),
        makeCommit('n2', { expectedBodyCas: null, expectedMetaCas: null, body: null }),
        makeCommit('exists', { expectedBodyCas: existing.bodyCas, expectedMetaCas: existing.metaCas, rev: '2-e' }),
      ]);
      expect(results.map((r) => r.ok)).toEqual([true, false, true, true]);
      expect(results[1]).toEqual({ ok: false, reason: 'cas_mismatch' });
      const seqs = results.filter((r) => r.ok).map((r) => (r.ok ? r.seq : 0));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(3);
      expect((await env.coll.get('n1'))?.body).toBe('{"id":"n1"}');
      expect(await env.coll.get('n2')).toMatchObject({ body: null, bodyCas: null });
      expect(JSON.parse((await env.coll.get('exists'))?.meta ?? '{}').rev).toBe('2-e');
      expect((await env.coll.readChanges({ since: existing.seq })).map((c) => c.id)).toEqual(['n1', 'n2', 'exists']);
    });

    it('sees earlier writes of the same batch', async () => {
      const [first, second] = await env.coll.commitMany([
        makeCommit('same', { expectedBodyCas: null, expectedMetaCas: null }),
        makeCommit('same', { expectedBodyCas: null, expectedMetaCas: null }),
      ]);
      expect(first?.ok).toBe(true);
      expect(second).toEqual({ ok: false, reason: 'cas_mismatch' });
      const ok = expectOk(first ?? { ok: false, reason: 'cas_mismatch' });
      const [third] = await env.coll.commitMany([
        makeCommit('same', { expectedBodyCas: ok.bodyCas, expectedMetaCas: ok.metaCas, rev: '2-s' }),
      ]);
      expect(third?.ok).toBe(true);
    });

    it('commits and reads back batches of ids with any characters', async () => {
      const ids = ['é', '\u{1F600}', 'quote"back\\slash', 'ctl\u0001\t', 'line\u2028sep', '[1]', '{"k":1}'];
      const results = await env.coll.commitMany(ids.map((id) => makeCommit(id, { expectedBodyCas: null, expectedMetaCas: null })));
      expect(results.every((r) => r.ok)).toBe(true);
      const many = await env.coll.getMany([...ids, 'missing']);
      expect([...many.keys()].sort()).toEqual([...ids].sort());
      for (const id of ids) expect(many.get(id)).toEqual(await env.coll.get(id));
      const again = await env.coll.commitMany(ids.map((id) => makeCommit(id, { expectedBodyCas: null, expectedMetaCas: null })));
      expect(again.every((r) => !r.ok)).toBe(true);
    });

    it('returns an empty list for an empty batch', async () => {
      expect(await env.coll.commitMany([])).toEqual([]);
    });

    it('writes nothing when a build callback throws', async () => {
      const good = makeCommit('g', { expectedBodyCas: null, expectedMetaCas: null });
      const bad = { ...makeCommit('b', { expectedBodyCas: null, expectedMetaCas: null }), build: () => { throw new Error('nope'); } };
      await expect(env.coll.commitMany([good, bad])).rejects.toThrow('nope');
      expect(await env.coll.get('g')).toBeNull();
    });
  });
}

export function collectionContract(env: ContractEnv): void {
  describe('collections', () => {
    it('returns the default collection by default', async () => {
      expect(env.coll.name).toBe('_default._default');
      expect((await env.bucket.collection('_default._default')).documentsTable).toBe(env.coll.documentsTable);
    });

    it('keeps named collections apart while sharing the sequence', async () => {
      const other = await env.bucket.collection('inventory.items');
      expect(other.name).toBe('inventory.items');
      expect(other.documentsTable).not.toBe(env.coll.documentsTable);
      const a = await save(env.coll, 'a');
      const b = await save(other, 'a');
      expect(b.seq).toBeGreaterThan(a.seq);
      expect(await env.bucket.lastSequence()).toBe(b.seq);
      expect((await other.readChanges({ since: 0 })).map((c) => c.seq)).toEqual([b.seq]);
      expect((await env.coll.readChanges({ since: 0 })).map((c) => c.seq)).toEqual([a.seq]);
      await other.purge('a');
      expect(await env.coll.get('a')).not.toBeNull();
      expect((await env.bucket.collection('inventory.items')).name).toBe('inventory.items');
    });

    it('rejects invalid collection names', async () => {
      for (const name of ['a.b.c', 'bad name', 'x.', '.y', 'semi;colon', 'quote"d.x']) {
        await expect(env.bucket.collection(name)).rejects.toThrow();
      }
    });
  });
}
