import { describe, expect, it } from 'vitest';
import type { BucketEvent } from './bucket.ts';
import { expectOk, makeCommit, mutationsOf, save, sleep, type ContractEnv, type OkResult } from './contract-support.ts';

async function waitUntil(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting for the condition');
    await sleep(10);
  }
}

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

    it('reports the unread backlog of each partition, with the time of its oldest entry', async () => {
      const partitions = env.bucket.partitions;
      const empty = await env.coll.mutationBacklog([]);
      expect(empty).toEqual(Array.from({ length: partitions }, (_, partition) => ({ partition, pending: 0, oldestAt: null })));
      const before = Date.now();
      for (let i = 0; i < 12; i++) await save(env.coll, `backlog-${i}`);
      await save(env.coll, 'backlog-0', { rev: '2-b' });
      const all = await env.coll.mutationBacklog([]);
      expect(all.map((b) => b.partition)).toEqual(Array.from({ length: partitions }, (_, p) => p));
      expect(all.reduce((sum, b) => sum + b.pending, 0)).toBe(13);
      for (const b of all) {
        if (b.pending === 0) {
          expect(b.oldestAt).toBeNull();
        } else {
          expect(b.oldestAt).toBeGreaterThanOrEqual(before - 5);
          expect(b.oldestAt).toBeLessThanOrEqual(Date.now() + 5);
        }
      }
      const read = await Promise.all(all.map((b) => env.coll.readMutations(b.partition, 0, 1000)));
      const cursors = read.map((entries) => entries[entries.length - 1]?.position ?? 0);
      expect((await env.coll.mutationBacklog(cursors)).every((b) => b.pending === 0 && b.oldestAt === null)).toBe(true);
      const busiest = read.reduce((best, entries, p) => (entries.length > (read[best]?.length ?? 0) ? p : best), 0);
      const entries = read[busiest] ?? [];
      const partial = [...cursors];
      partial[busiest] = entries[0]?.position ?? 0;
      expect((await env.coll.mutationBacklog(partial))[busiest]?.pending).toBe(entries.length - 1);
      // Trimmed entries are no longer pending, and missing cursors count as 0.
      await env.coll.trimMutations(busiest, cursors[busiest] ?? 0);
      expect((await env.coll.mutationBacklog([]))[busiest]).toEqual({ partition: busiest, pending: 0, oldestAt: null });
    });
  });

  describe('watch', () => {
    it('tells watchers about its own commits and record changes, until they stop watching', async () => {
      const events: BucketEvent[] = [];
      const other: BucketEvent[] = [];
      const stop = env.bucket.watch((e) => events.push(e));
      const stopOther = env.bucket.watch((e) => other.push(e));
      let saved: OkResult | undefined;
      try {
        saved = await save(env.coll, 'watched');
        await env.bucket.setRecord('_sync:user:w', '{}');
        const sequenced = await env.bucket.setRecordAtSequence('_sync:role:w', 0, (seq) => String(seq));
        await env.bucket.deleteRecord('_sync:user:w');
        const seen = (list: BucketEvent[]): boolean =>
          list.some((e) => e.kind === 'sequence' && e.seq >= (saved?.seq ?? Infinity)) &&
          list.some((e) => e.kind === 'sequence' && e.seq >= (sequenced?.seq ?? Infinity)) &&
          list.some((e) => e.kind === 'record' && e.key === '_sync:role:w') &&
          list.filter((e) => e.kind === 'record' && e.key === '_sync:user:w').length >= 2;
        await waitUntil(() => seen(events) && seen(other));
      } finally {
        stop();
      }
      const count = events.length;
      await save(env.coll, 'watched', { rev: '2-w' });
      await env.bucket.setRecord('_sync:user:w', '{}');
      await waitUntil(() => other.some((e) => e.kind === 'sequence' && e.seq > (saved?.seq ?? Infinity) + 1));
      await sleep(50);
      expect(events).toHaveLength(count);
      stopOther();
    });

    it('keeps delivering to other watchers when one throws', async () => {
      const events: BucketEvent[] = [];
      const stopBad = env.bucket.watch(() => {
        throw new Error('listener failure');
      });
      const stop = env.bucket.watch((e) => events.push(e));
      try {
        const saved = await save(env.coll, 'robust');
        await waitUntil(() => events.some((e) => e.kind === 'sequence' && e.seq >= saved.seq));
        expect(await env.coll.get('robust')).not.toBeNull();
      } finally {
        stopBad();
        stop();
      }
    });
  });
}
