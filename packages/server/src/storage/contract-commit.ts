import { describe, expect, it } from 'vitest';
import { expectOk, makeCommit, save, type ContractEnv } from './contract-support.ts';

export function commitContract(env: ContractEnv): void {
  describe('commit', () => {
    it('creates a document with body, metadata and fresh cas values', async () => {
      const commit = makeCommit('a', { expectedBodyCas: null, expectedMetaCas: null, body: '{"x":1}' });
      const result = expectOk(await env.coll.commit(commit));
      expect(commit.builtWith).toEqual([result.seq]);
      expect(result.seq).toBeGreaterThan(0);
      expect(result.bodyCas).not.toBeNull();
      expect(result.metaCas).toBeGreaterThan(result.bodyCas ?? Infinity);
      expect(await env.coll.get('a')).toEqual({
        id: 'a',
        body: '{"x":1}',
        bodyCas: result.bodyCas,
        meta: JSON.stringify({ rev: '1-a', seq: result.seq }),
        metaCas: result.metaCas,
      });
      expect(await env.bucket.lastSequence()).toBe(result.seq);
    });

    it('updates a document with new, larger cas values', async () => {
      const first = await save(env.coll, 'a', { body: '{"v":1}' });
      const second = await save(env.coll, 'a', { body: '{"v":2}', rev: '2-b' });
      expect(second.seq).toBeGreaterThan(first.seq);
      expect(second.bodyCas).toBeGreaterThan(first.metaCas);
      expect(second.metaCas).toBeGreaterThan(second.bodyCas ?? Infinity);
      const doc = await env.coll.get('a');
      expect(doc?.body).toBe('{"v":2}');
      expect(doc?.bodyCas).toBe(second.bodyCas);
      expect(doc?.metaCas).toBe(second.metaCas);
      expect(JSON.parse(doc?.meta ?? '{}')).toEqual({ rev: '2-b', seq: second.seq });
    });

    it('deletes the live row on a tombstone (body null) and keeps the metadata', async () => {
      await save(env.coll, 'a');
      const result = await save(env.coll, 'a', { body: null, rev: '2-d' });
      expect(result.bodyCas).toBeNull();
      const doc = await env.coll.get('a');
      expect(doc).toMatchObject({ id: 'a', body: null, bodyCas: null, metaCas: result.metaCas });
      expect(JSON.parse(doc?.meta ?? '{}')).toEqual({ rev: '2-d', seq: result.seq });
    });

    it('allows a tombstone for a document that never had a live row', async () => {
      const result = expectOk(
        await env.coll.commit(makeCommit('t', { expectedBodyCas: null, expectedMetaCas: null, body: null })),
      );
      expect(result.bodyCas).toBeNull();
      expect(await env.coll.get('t')).toMatchObject({ body: null, bodyCas: null, metaCas: result.metaCas });
    });

    it('leaves the documents row untouched on a metadata-only commit (body undefined)', async () => {
      const first = await save(env.coll, 'a', { body: '{"keep":true}' });
      const second = await save(env.coll, 'a', { body: undefined, rev: '2-m' });
      expect(second.bodyCas).toBe(first.bodyCas);
      expect(second.metaCas).toBeGreaterThan(first.metaCas);
      expect(await env.coll.get('a')).toMatchObject({ body: '{"keep":true}', bodyCas: first.bodyCas });
    });

    it('rejects a stale expectedBodyCas without calling build', async () => {
      const first = await save(env.coll, 'a');
      await save(env.coll, 'a', { rev: '2-b' });
      const stale = makeCommit('a', { expectedBodyCas: first.bodyCas, expectedMetaCas: (await env.coll.get('a'))?.metaCas ?? null });
      expect(await env.coll.commit(stale)).toEqual({ ok: false, reason: 'cas_mismatch' });
      expect(stale.builtWith).toEqual([]);
    });

    it('rejects a stale expectedMetaCas', async () => {
      const first = await save(env.coll, 'a');
      await save(env.coll, 'a', { body: undefined, rev: '2-b' });
      const before = await env.coll.get('a');
      const stale = makeCommit('a', { expectedBodyCas: first.bodyCas, expectedMetaCas: first.metaCas });
      expect(await env.coll.commit(stale)).toEqual({ ok: false, reason: 'cas_mismatch' });
      expect(await env.coll.get('a')).toEqual(before);
    });

    it('rejects "must be absent" when a row exists', async () => {
      const first = await save(env.coll, 'a');
      const lastSeq = await env.bucket.lastSequence();
      const again = makeCommit('a', { expectedBodyCas: null, expectedMetaCas: null });
      expect(await env.coll.commit(again)).toEqual({ ok: false, reason: 'cas_mismatch' });
      const metaOnly = makeCommit('a', { expectedBodyCas: first.bodyCas, expectedMetaCas: null });
      expect(await env.coll.commit(metaOnly)).toEqual({ ok: false, reason: 'cas_mismatch' });
      const bodyAbsent = makeCommit('a', { expectedBodyCas: null, expectedMetaCas: first.metaCas });
      expect(await env.coll.commit(bodyAbsent)).toEqual({ ok: false, reason: 'cas_mismatch' });
      expect(await env.bucket.lastSequence()).toBe(lastSeq);
    });

    it('allocates strictly increasing sequences across documents and commits', async () => {
      const seqs: number[] = [];
      for (const id of ['a', 'b', 'a', 'c', 'b']) seqs.push((await save(env.coll, id, { rev: `${seqs.length}-x` })).seq);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] ?? Infinity);
      expect(await env.bucket.lastSequence()).toBe(seqs[seqs.length - 1]);
    });

    it('writes nothing when build throws', async () => {
      const commit = makeCommit('boom', { expectedBodyCas: null, expectedMetaCas: null });
      await expect(
        env.coll.commit({ ...commit, build: () => { throw new Error('build failed'); } }),
      ).rejects.toThrow('build failed');
      expect(await env.coll.get('boom')).toBeNull();
      expect(await env.coll.readChanges({ since: 0 })).toEqual([]);
      expectOk(await env.coll.commit(commit));
    });

    it('lets exactly one of several concurrent commits with the same expected cas win', async () => {
      const creates = await Promise.all(
        Array.from({ length: 6 }, () => env.coll.commit(makeCommit('c', { expectedBodyCas: null, expectedMetaCas: null }))),
      );
      expect(creates.filter((r) => r.ok)).toHaveLength(1);
      const doc = await env.coll.get('c');
      const updates = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          env.coll.commit(
            makeCommit('c', { expectedBodyCas: doc?.bodyCas ?? null, expectedMetaCas: doc?.metaCas ?? null, rev: `2-${i}` }),
          ),
        ),
      );
      expect(updates.filter((r) => r.ok)).toHaveLength(1);
      expect(updates.filter((r) => !r.ok).every((r) => !r.ok && r.reason === 'cas_mismatch')).toBe(true);
    });

    it('purges body, metadata and changes entries', async () => {
      await save(env.coll, 'p', { channels: ['ch'] });
      await save(env.coll, 'p', { rev: '2-p', channels: ['ch'] });
      await save(env.coll, 'q', { channels: ['ch'] });
      expect(await env.coll.purge('p')).toBe(true);
      expect(await env.coll.get('p')).toBeNull();
      expect((await env.coll.readChanges({ since: 0 })).map((c) => c.id)).toEqual(['q']);
      expect((await env.coll.readChanges({ since: 0, channels: ['ch'] })).map((c) => c.id)).toEqual(['q']);
      expect((await env.coll.scanMeta({ includeDeleted: true })).map((m) => m.id)).toEqual(['q']);
      expect(await env.coll.purge('p')).toBe(false);
      expectOk(await env.coll.commit(makeCommit('p', { expectedBodyCas: null, expectedMetaCas: null })));
    });

    it('reads many documents at once, skipping missing ids', async () => {
      const ids = Array.from({ length: 1200 }, (_, i) => `doc-${i}`);
      await env.coll.commitMany(ids.map((id) => makeCommit(id, { expectedBodyCas: null, expectedMetaCas: null })));
      await save(env.coll, 'doc-5', { body: null, rev: '2-d' });
      const found = await env.coll.getMany([...ids, 'missing', 'doc-1', 'doc-5']);
      expect(found.size).toBe(1200);
      expect(found.get('doc-1')?.body).toBe('{"id":"doc-1"}');
      expect(found.get('doc-5')).toMatchObject({ body: null, bodyCas: null });
      expect(found.has('missing')).toBe(false);
      expect((await env.coll.getMany([])).size).toBe(0);
    });
  });
}
