import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../base/logger.ts';
import { ChangeNotifier } from '../db/change-notifier.ts';
import { BucketWakeups } from '../db/bucket-wakeups.ts';
import { openSqliteBucket } from '../storage/sqlite/sqlite-bucket.ts';
import { NodeRegistry, liveNodes } from './node-registry.ts';
import { leaseKey, PartitionLeases, type LeaseListener } from './partition-leases.ts';

const log = createLogger({ level: 'silent' });

function recorder(): LeaseListener & { events: string[] } {
  const events: string[] = [];
  return { events, gained: (p) => events.push(`gained ${p}`), lost: (p) => events.push(`lost ${p}`), drain: async () => {} };
}

describe('partition leases', () => {
  it('takes every partition alone, and stops owning one at once when its renewal fails', async () => {
    await using bucket = await openSqliteBucket(':memory:', { partitions: 2 });
    const leases = new PartitionLeases(bucket, 'c', 'a', log, { ttlMs: 60_000, renewMs: 60_000 });
    const events = recorder();
    leases.attach(events);
    await leases.start();
    expect(leases.owned()).toEqual([0, 1]);
    expect(events.events).toEqual(['gained 0', 'gained 1']);
    // Another node took partition 1 (as after an expiry this node missed): the version moved on.
    const held = (await bucket.getRecord(leaseKey('c', 1)))!;
    await bucket.setRecord(leaseKey('c', 1), JSON.stringify({ node: 'b', acquired_at: 0 }), { expectedVersion: held.version, ttlMs: 60_000 });
    await leases.runRound();
    expect(events.events).toEqual(['gained 0', 'gained 1', 'lost 1']);
    expect(leases.owned()).toEqual([0]);
    await leases.stop();
    expect(await bucket.getRecord(leaseKey('c', 0))).toBeNull();
    expect(await bucket.getRecord(leaseKey('c', 1))).not.toBeNull();
  });

  it('gives up the partitions the assignment moves to a new node, after their in-flight batch', async () => {
    await using bucket = await openSqliteBucket(':memory:', { partitions: 4 });
    const a = new PartitionLeases(bucket, 'c', 'a', log, { ttlMs: 60_000, renewMs: 60_000 });
    let drained = 0;
    a.attach({ gained: () => {}, lost: () => {}, drain: async () => void drained++ });
    await a.start();
    expect(a.owned()).toEqual([0, 1, 2, 3]);
    const registry = new NodeRegistry(bucket, log, { id: 'b', importDocs: true, version: 'x' }, { ttlMs: 60_000, heartbeatMs: 60_000 });
    await registry.start();
    await a.runRound();
    expect(a.owned()).toEqual([0, 2]);
    expect(drained).toBe(2);
    const b = new PartitionLeases(bucket, 'c', 'b', log, { ttlMs: 60_000, renewMs: 60_000 });
    await b.start();
    expect(b.owned()).toEqual([1, 3]);
    await registry.stop();
    expect(await liveNodes(bucket)).toEqual([]);
    await a.stop();
    await b.stop();
  });

  it('does not take partitions on a node that is not an import node', async () => {
    await using bucket = await openSqliteBucket(':memory:', { partitions: 2 });
    const registry = new NodeRegistry(bucket, log, { id: 'quiet', importDocs: false, version: 'x' });
    await registry.start();
    const a = new PartitionLeases(bucket, 'c', 'a', log, { ttlMs: 60_000, renewMs: 60_000 });
    await a.start();
    // The non-import node does not count in the assignment.
    expect(a.owned()).toEqual([0, 1]);
    expect((await liveNodes(bucket)).map((n) => [n.id, n.import_docs])).toEqual([['quiet', false]]);
    await a.stop();
    await registry.stop();
  });
});

describe('bucket wake-ups', () => {
  it('announces committed sequences from storage events and, for writes by other processes, from the polling backstop', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncline-wakeups-'));
    try {
      await using bucket = await openSqliteBucket(join(dir, 'b.sqlite'));
      await using other = await openSqliteBucket(join(dir, 'b.sqlite'));
      const notifier = new ChangeNotifier();
      let mutations = 0;
      const wakeups = new BucketWakeups(bucket, notifier, log, { pollMs: 20, onMutations: () => void mutations++ });
      wakeups.start();
      // A write through this bucket is reported by the engine at once.
      await bucket.setRecordAtSequence('u1', 0, () => '{}');
      expect(notifier.latest).toBe(1);
      // Another connection's write (another node) is seen by the poll.
      await other.setRecordAtSequence('u2', 0, () => '{}');
      expect(await notifier.waitFor(1, 5000)).toBe(true);
      expect(notifier.latest).toBe(2);
      await wakeups.stop();
      expect(mutations).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
