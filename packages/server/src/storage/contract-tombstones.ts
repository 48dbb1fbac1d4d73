import { describe, expect, it } from 'vitest';
import { save, type ContractEnv } from './contract-support.ts';

export function tombstoneContract(env: ContractEnv): void {
  describe('listTombstones', () => {
    it('lists only documents whose winning revision is deleted, in id order, with their metadata', async () => {
      await save(env.coll, 'live');
      const gone = await save(env.coll, 't2', { body: null, rev: '1-t2' });
      await save(env.coll, 't1');
      const deleted = await save(env.coll, 't1', { body: null, rev: '2-t1' });
      await save(env.coll, 'back');
      await save(env.coll, 'back', { body: null, rev: '2-back' });
      await save(env.coll, 'back', { rev: '3-back' });
      const rows = await env.coll.listTombstones('', 10);
      expect(rows.map((r) => r.id)).toEqual(['t1', 't2']);
      expect(rows[0]).toEqual({ id: 't1', meta: JSON.stringify({ rev: '2-t1', seq: deleted.seq }), metaCas: deleted.metaCas, seq: deleted.seq, deleted: true });
      expect(rows[1]).toMatchObject({ id: 't2', metaCas: gone.metaCas, seq: gone.seq, deleted: true });
    });

    it('pages by id after the given one, up to the limit', async () => {
      const ids = Array.from({ length: 7 }, (_, i) => `doc-${i}`);
      for (const id of ids) await save(env.coll, id, { body: null });
      await save(env.coll, 'doc-3b');
      const pages: string[][] = [];
      for (let after = ''; ;) {
        const page = (await env.coll.listTombstones(after, 3)).map((r) => r.id);
        if (page.length === 0) break;
        pages.push(page);
        after = page[page.length - 1]!;
      }
      expect(pages).toEqual([['doc-0', 'doc-1', 'doc-2'], ['doc-3', 'doc-4', 'doc-5'], ['doc-6']]);
      expect(await env.coll.listTombstones('zzz', 3)).toEqual([]);
    });

    it('lists tombstones whose body row came back (awaiting import) and forgets purged ones', async () => {
      await save(env.coll, 'revived', { body: '{"again":true}', deleted: true });
      await save(env.coll, 'purged', { body: null });
      await env.coll.purge('purged');
      expect((await env.coll.listTombstones('', 10)).map((r) => r.id)).toEqual(['revived']);
    });
  });

  describe('conditional purge', () => {
    it('purges only while the metadata cas is the expected one', async () => {
      await save(env.coll, 'd', { channels: ['ch'] });
      const first = await save(env.coll, 'd', { body: null, rev: '2-d', channels: ['ch'] });
      const recreated = await save(env.coll, 'd', { rev: '3-d', channels: ['ch'] });
      expect(await env.coll.purge('d', { expectedMetaCas: first.metaCas })).toBe(false);
      expect(await env.coll.get('d')).toMatchObject({ metaCas: recreated.metaCas, body: '{"id":"d"}' });
      expect((await env.coll.readChanges({ since: 0, channels: ['ch'] })).map((c) => c.id)).toEqual(['d']);
      expect(await env.coll.countLive()).toBe(1);

      const again = await save(env.coll, 'd', { body: null, rev: '4-d', channels: ['ch'] });
      expect(await env.coll.purge('d', { expectedMetaCas: again.metaCas, expectedBodyCas: null })).toBe(true);
      expect(await env.coll.get('d')).toBeNull();
      expect(await env.coll.readChanges({ since: 0 })).toEqual([]);
      expect(await env.coll.readChanges({ since: 0, channels: ['ch'] })).toEqual([]);
      expect(await env.coll.listTombstones('', 10)).toEqual([]);
      expect(await env.coll.countLive()).toBe(0);
    });

    it('leaves a tombstone whose documents row exists when no row is expected', async () => {
      const tomb = await save(env.coll, 'r', { body: '{"v":1}', deleted: true, grants: [{ grantee: 'alice', kind: 'channel', item: 'a' }] });
      expect(await env.coll.purge('r', { expectedMetaCas: tomb.metaCas, expectedBodyCas: null })).toBe(false);
      expect(await env.coll.get('r')).toMatchObject({ body: '{"v":1}', metaCas: tomb.metaCas });
      expect((await env.coll.readGrants(['alice'])).map((g) => g.docId)).toEqual(['r']);
      expect(await env.coll.purge('r', { expectedMetaCas: tomb.metaCas, expectedBodyCas: tomb.bodyCas })).toBe(true);
      expect(await env.coll.get('r')).toBeNull();
      expect(await env.coll.readGrants(['alice'])).toEqual([]);
    });

    it('treats an expected null metadata cas as "no metadata row"', async () => {
      const stored = await save(env.coll, 'm', { body: null });
      expect(await env.coll.purge('m', { expectedMetaCas: null })).toBe(false);
      expect(await env.coll.purge('missing', { expectedMetaCas: null })).toBe(false);
      expect(await env.coll.purge('m', { expectedMetaCas: stored.metaCas })).toBe(true);
      expect(await env.coll.purge('m', { expectedMetaCas: stored.metaCas })).toBe(false);
    });

    it('purges a document written only by a server app when no metadata is expected', async (ctx) => {
      const makeWriter = env.options.directWriter;
      if (!makeWriter) return ctx.skip();
      const writer = await makeWriter(env.bucket);
      try {
        await writer.insert('app', '{"from":"sql"}');
      } finally {
        await writer.close();
      }
      const row = await env.coll.get('app');
      expect(await env.coll.purge('app', { expectedMetaCas: null, expectedBodyCas: (row?.bodyCas ?? 0) + 1 })).toBe(false);
      expect(await env.coll.purge('app', { expectedMetaCas: null, expectedBodyCas: row?.bodyCas ?? null })).toBe(true);
      expect(await env.coll.get('app')).toBeNull();
    });
  });
}
