import { describe, expect, it } from 'vitest';
import { save, sleep, type ContractEnv } from './contract-support.ts';

export function blobContract(env: ContractEnv): void {
  describe('blobs', () => {
    it('stores, reads, lists and deletes blobs', async () => {
      const data = new Uint8Array([0, 1, 2, 250, 255]);
      expect(await env.bucket.getBlob('sha1-a')).toBeNull();
      expect(await env.bucket.hasBlob('sha1-a')).toBe(false);
      await env.bucket.putBlob('sha1-a', data);
      await env.bucket.putBlob('sha1-a', data);
      await env.bucket.putBlob('sha1-b', new Uint8Array(0));
      expect(Array.from((await env.bucket.getBlob('sha1-a')) ?? [])).toEqual([0, 1, 2, 250, 255]);
      expect((await env.bucket.getBlob('sha1-b'))?.byteLength).toBe(0);
      expect(await env.bucket.hasBlob('sha1-a')).toBe(true);
      expect((await env.bucket.listBlobDigests()).sort()).toEqual(['sha1-a', 'sha1-b']);
      await env.bucket.deleteBlob('sha1-a');
      await env.bucket.deleteBlob('sha1-missing');
      expect(await env.bucket.hasBlob('sha1-a')).toBe(false);
      expect(await env.bucket.listBlobDigests()).toEqual(['sha1-b']);
    });

    it('stores a view of a larger buffer exactly', async () => {
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      await env.bucket.putBlob('sha1-view', backing.subarray(2, 5));
      expect(Array.from((await env.bucket.getBlob('sha1-view')) ?? [])).toEqual([1, 2, 3]);
    });
  });
}

export function recordContract(env: ContractEnv): void {
  describe('records', () => {
    it('sets, reads and versions records', async () => {
      expect(await env.bucket.getRecord('k')).toBeNull();
      const first = await env.bucket.setRecord('k', 'v1');
      expect(first).toEqual({ key: 'k', value: 'v1', version: 1, expiresAt: null });
      const second = await env.bucket.setRecord('k', 'v2');
      expect(second?.version).toBe(2);
      expect(await env.bucket.getRecord('k')).toEqual({ key: 'k', value: 'v2', version: 2, expiresAt: null });
    });

    it('compare-and-sets on version (0 = must not exist)', async () => {
      expect(await env.bucket.setRecord('k', 'a', { expectedVersion: 1 })).toBeNull();
      const created = await env.bucket.setRecord('k', 'a', { expectedVersion: 0 });
      expect(created?.version).toBe(1);
      expect(await env.bucket.setRecord('k', 'b', { expectedVersion: 0 })).toBeNull();
      expect(await env.bucket.setRecord('k', 'b', { expectedVersion: 2 })).toBeNull();
      expect((await env.bucket.setRecord('k', 'b', { expectedVersion: 1 }))?.value).toBe('b');
      expect((await env.bucket.getRecord('k'))?.value).toBe('b');
    });

    it('writes non-durable records with the same compare-and-set rules', async () => {
      const created = await env.bucket.setRecord('checkpoint', '1', { expectedVersion: 0, durable: false });
      expect(created?.version).toBe(1);
      expect(await env.bucket.setRecord('checkpoint', '2', { expectedVersion: 0, durable: false })).toBeNull();
      expect((await env.bucket.setRecord('checkpoint', '2', { expectedVersion: 1, durable: false }))?.version).toBe(2);
      await env.bucket.setRecord('after', 'x');
      expect((await env.bucket.getRecord('checkpoint'))?.value).toBe('2');
    });

    it('deletes with an optional expected version', async () => {
      await env.bucket.setRecord('k', 'a');
      expect(await env.bucket.deleteRecord('k', { expectedVersion: 5 })).toBe(false);
      expect(await env.bucket.deleteRecord('k', { expectedVersion: 1 })).toBe(true);
      expect(await env.bucket.getRecord('k')).toBeNull();
      expect(await env.bucket.deleteRecord('k')).toBe(false);
    });

    it('lists by prefix in key order, treating % and _ literally', async () => {
      for (const key of ['cp/b', 'cp/a', 'cp%x', 'cp_y', 'cq', 'c', 'cp/\u{1F600}', 'cp/\uFFFF']) {
        await env.bucket.setRecord(key, key);
      }
      expect((await env.bucket.listRecords('cp/')).map((r) => r.key)).toEqual(['cp/a', 'cp/b', 'cp/\uFFFF', 'cp/\u{1F600}']);
      expect((await env.bucket.listRecords('cp%')).map((r) => r.key)).toEqual(['cp%x']);
      expect((await env.bucket.listRecords('cp_')).map((r) => r.key)).toEqual(['cp_y']);
      expect((await env.bucket.listRecords('')).length).toBe(8);
      expect(await env.bucket.listRecords('zz')).toEqual([]);
    });

    it('expires records after their TTL; expired records are absent and replaceable', async () => {
      const before = Date.now();
      const leased = await env.bucket.setRecord('lease', 'owner-1', { ttlMs: 50, expectedVersion: 0 });
      expect(leased?.expiresAt).toBeGreaterThanOrEqual(before + 50);
      expect((await env.bucket.getRecord('lease'))?.value).toBe('owner-1');
      expect(await env.bucket.setRecord('lease', 'owner-2', { expectedVersion: 0 })).toBeNull();
      await sleep(80);
      expect(await env.bucket.getRecord('lease')).toBeNull();
      expect(await env.bucket.listRecords('lea')).toEqual([]);
      expect(await env.bucket.deleteRecord('lease')).toBe(false);
      await env.bucket.setRecord('lease2', 'owner-1', { ttlMs: 50 });
      await sleep(80);
      const replaced = await env.bucket.setRecord('lease2', 'owner-2', { expectedVersion: 0 });
      expect(replaced?.value).toBe('owner-2');
      expect(replaced?.expiresAt).toBeNull();
      // The stale holder's version must not match the new record.
      expect(await env.bucket.setRecord('lease2', 'owner-1', { expectedVersion: 1 })).toBeNull();
    });
  
    it('writes a record stamped with a fresh sequence, in order with document commits', async () => {
      const before = await env.bucket.lastSequence();
      const first = await env.bucket.setRecordAtSequence('_sync:user:a', 0, (seq) => JSON.stringify({ seq }));
      expect(first?.seq).toBe(before + 1);
      expect(first?.record.value).toBe(JSON.stringify({ seq: before + 1 }));
      expect(await env.bucket.lastSequence()).toBe(before + 1);
      const coll = await env.bucket.collection();
      const saved = await save(coll, 'after-user');
      expect(saved.seq).toBe(before + 2);
      expect(await env.bucket.setRecordAtSequence('_sync:user:a', 0, () => 'x')).toBeNull();
      expect(await env.bucket.lastSequence()).toBe(before + 2);
      const second = await env.bucket.setRecordAtSequence('_sync:user:a', 1, (seq) => String(seq));
      expect(second).toEqual({ record: { key: '_sync:user:a', value: String(before + 3), version: 2, expiresAt: null }, seq: before + 3 });
    });
  });
}
