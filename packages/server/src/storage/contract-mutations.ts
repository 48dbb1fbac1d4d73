import { describe, expect, it } from 'vitest';
import { expectOk, makeCommit, mutationsOf, save, type ContractEnv } from './contract-support.ts';

export function mutationContract(env: ContractEnv): void {
  describe('mutation log', () => {
    it('logs gateway commits with the cas that get reports', async () => {
      const created = await save(env.coll, 'm');
      const afterCreate = await env.coll.get('m');
      const updated = await save(env.coll, 'm', { rev: '2-m' });
      await save(env.coll, 'm', { rev: '3-m', body: undefined });
      await save(env.coll, 'm', { rev: '4-m', body: null });
      const log = await mutationsOf(env.bucket, env.coll, 'm');
      expect(log.map((m) => [m.op, m.cas])).toEqual([
        ['insert', created.bodyCas],
        ['update', updated.bodyCas],
        ['delete', null],
      ]);
      expect(afterCreate?.bodyCas).toBe(created.bodyCas);
      const partitions = new Set(log.map((m) => m.partition));
      expect(partitions.size).toBe(1);
      const [partition = -1] = partitions;
      expect(partition).toBeGreaterThanOrEqual(0);
      expect(partition).toBeLessThan(env.bucket.partitions);
    });

    it('reads after a position with a limit, and trims processed entries', async () => {
      for (let i = 0; i < 40; i++) await save(env.coll, `doc-${i}`);
      const [partition] = (await mutationsOf(env.bucket, env.coll, 'doc-0')).map((m) => m.partition);
      const all = await env.coll.readMutations(partition ?? 0, 0, 1000);
      expect(all.length).toBeGreaterThanOrEqual(1);
      expect(all.every((m) => m.partition === partition)).toBe(true);
      const positions = all.map((m) => m.position);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
      const first = all[0];
      if (!first) throw new Error('no mutation');
      expect(await env.coll.readMutations(first.partition, 0, 1)).toEqual([first]);
      expect(await env.coll.readMutations(first.partition, first.position, 1000)).toEqual(all.slice(1));
      await env.coll.trimMutations(first.partition, first.position);
      expect(await env.coll.readMutations(first.partition, 0, 1000)).toEqual(all.slice(1));
    });

    it('spreads documents over several partitions', async () => {
      if (env.bucket.partitions < 2) return;
      for (let i = 0; i < 64; i++) await save(env.coll, `user-${i}`);
      const used = new Set<number>();
      for (let p = 0; p < env.bucket.partitions; p++) {
        if ((await env.coll.readMutations(p, 0, 1)).length > 0) used.add(p);
      }
      expect(used.size).toBeGreaterThan(1);
    });

    it('logs direct writes by other clients with the cas that get reports', async (ctx) => {
      const factory = env.options.directWriter;
      if (!factory) return ctx.skip();
      const writer = await factory(env.bucket);
      try {
        await writer.insert('ext', '{"n":1}');
        const inserted = await env.coll.get('ext');
        expect(inserted).toMatchObject({ body: '{"n":1}', meta: null, metaCas: null });
        await writer.update('ext', '{"n":2}');
        const updated = await env.coll.get('ext');
        expect(updated?.bodyCas).toBeGreaterThan(inserted?.bodyCas ?? Infinity);

        // The gateway imports the external write with the cas it read.
        const imported = expectOk(
          await env.coll.commit(
            makeCommit('ext', { expectedBodyCas: updated?.bodyCas ?? null, expectedMetaCas: null, body: undefined }),
          ),
        );
        expect(imported.bodyCas).toBe(updated?.bodyCas);
        await writer.update('ext', '{"n":3}');
        const stale = makeCommit('ext', { expectedBodyCas: updated?.bodyCas ?? null, expectedMetaCas: imported.metaCas });
        expect(await env.coll.commit(stale)).toEqual({ ok: false, reason: 'cas_mismatch' });
        const third = await env.coll.get('ext');
        expect(third?.bodyCas).toBeGreaterThan(imported.metaCas);
        await writer.delete('ext');
        expect(await env.coll.get('ext')).toMatchObject({ body: null, bodyCas: null, metaCas: imported.metaCas });

        const log = await mutationsOf(env.bucket, env.coll, 'ext');
        expect(log.map((m) => [m.op, m.cas])).toEqual([
          ['insert', inserted?.bodyCas],
          ['update', updated?.bodyCas],
          ['update', third?.bodyCas],
          ['delete', null],
        ]);
      } finally {
        await writer.close();
      }
    });

    it('stamps log entries with the time of the write', async () => {
      const before = Date.now();
      await save(env.coll, 'timed');
      const [entry] = await mutationsOf(env.bucket, env.coll, 'timed');
      expect(entry?.at).toBeGreaterThanOrEqual(before - 5);
      expect(entry?.at).toBeLessThanOrEqual(Date.now() + 5);
    });

    it('finds documents written outside the gateway since its last write', async (ctx) => {
      const factory = env.options.directWriter;
      if (!factory) return ctx.skip();
      await save(env.coll, 'gw-only');
      await save(env.coll, 'app-updated');
      await save(env.coll, 'app-deleted');
      await save(env.coll, 'gw-tombstone', { body: null });
      const writer = await factory(env.bucket);
      try {
        await writer.insert('app-new', '{"n":1}');
        await writer.update('app-updated', '{"n":2}');
        await writer.delete('app-deleted');
        expect(await env.coll.scanUnimported('', 100)).toEqual(['app-deleted', 'app-new', 'app-updated']);
        expect(await env.coll.scanUnimported('app-deleted', 1)).toEqual(['app-new']);
        // Once the gateway has written after the app, nothing is pending for that document.
        const current = await env.coll.get('app-updated');
        expectOk(await env.coll.commit(makeCommit('app-updated', { rev: '2-b', expectedBodyCas: current?.bodyCas ?? null, expectedMetaCas: current?.metaCas ?? null, body: undefined })));
        expect(await env.coll.scanUnimported('', 100)).toEqual(['app-deleted', 'app-new']);
      } finally {
        await writer.close();
      }
    });
  });
}
