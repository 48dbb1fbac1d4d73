/**
 * Import shared by several nodes of one bucket: three Database instances (as three processes would be) on one
 * SQLite file with 8 mutation-log partitions, two of them import nodes and one with `import_docs: false`, and a
 * server app writing the documents table through its own connection.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/base/logger.ts';
import { parseDatabaseConfig } from '../src/config/load.ts';
import { desiredPartitions } from '../src/cluster/assignment.ts';
import { Database, type DatabaseClusterOptions } from '../src/db/database.ts';
import { parseMeta } from '../src/db/doc-meta.ts';
import { partitionOf } from '../src/storage/sqlite/partition.ts';
import { openSqliteBucket } from '../src/storage/sqlite/sqlite-bucket.ts';

const PARTITIONS = 8;
const FAST: DatabaseClusterOptions = { nodeTtlMs: 1000, heartbeatMs: 200, leaseTtlMs: 1000, leaseRenewMs: 200, wakeupPollMs: 200 };
const SYNC = 'function (doc) { channel(doc.channels); }';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncline-cluster-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function until<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sameSet = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && [...a].sort().join() === [...b].sort().join();

describe('import shared by the nodes of a cluster', () => {
  it('splits the partitions between import nodes, moves a dead node’s partitions, and imports every write exactly once', async () => {
    const path = join(dir, 'shared.sqlite');
    const server = `sqlite:${path}`;
    const logger = createLogger({ level: 'silent' });
    const open = async (nodeId: string, extra: Record<string, unknown> = {}) =>
      Database.open('db', parseDatabaseConfig('db', { server, sync: SYNC, ...extra }), await openSqliteBucket(path, { partitions: PARTITIONS }), logger, nodeId, {}, FAST);

    // Rows written before any node runs.
    const first = await openSqliteBucket(path, { partitions: PARTITIONS });
    await first.collection();
    await first.close();
    const app = new BetterSqlite(path, { timeout: 5000 });
    const insert = app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)');
    const update = app.prepare('UPDATE documents SET body = ? WHERE id = ?');
    const remove = app.prepare('DELETE FROM documents WHERE id = ?');
    /** Expected revisions per document: one per external write. */
    const writes = new Map<string, number>();
    const deleted = new Set<string>();
    const write = (id: string, op: 'insert' | 'update' | 'delete') => {
      if (op === 'insert') insert.run(id, JSON.stringify({ channels: ['c'], id }));
      else if (op === 'update') update.run(JSON.stringify({ channels: ['c'], id, n: writes.get(id) }), id);
      else remove.run(id);
      if (op === 'delete') deleted.add(id);
      writes.set(id, (writes.get(id) ?? 0) + 1);
    };
    for (let i = 0; i < 40; i++) write(`pre-${i}`, 'insert');

    const a = await open('node-a');
    const b = await open('node-b');
    const c = await open('node-c', { import_docs: false });
    const nodes = [a, b, c];
    try {
      /** Waits until every write so far is imported, as exactly one revision each. */
      const allImported = (what: string) =>
        until(what, async () => {
          const stored = await a.collection.getMany([...writes.keys()]);
          for (const [id, count] of writes) {
            const meta = stored.get(id)?.meta;
            if (!meta) return false;
            const m = parseMeta(meta);
            if (Number(m.rev.split('-')[0]) !== count || m.deleted !== deleted.has(id)) return false;
          }
          return true;
        });
      const noOverlap = () => {
        const owned = nodes.filter((db) => !db.closed).map((db) => db.ownedPartitions());
        const all = owned.flat();
        expect(new Set(all).size).toBe(all.length);
      };

      // The two import nodes settle on their shares; the node with import_docs false takes none.
      await until('partitions split between node-a and node-b', () => {
        noOverlap();
        return (
          sameSet(a.ownedPartitions(), desiredPartitions('node-a', ['node-a', 'node-b'], PARTITIONS)) &&
          sameSet(b.ownedPartitions(), desiredPartitions('node-b', ['node-a', 'node-b'], PARTITIONS))
        );
      });
      expect(a.ownedPartitions()).toHaveLength(PARTITIONS / 2);
      expect(c.ownedPartitions()).toEqual([]);
      const status = await c.importStatus();
      expect(status.node).toBe('node-c');
      expect(status.nodes.map((n) => [n.id, n.import_docs]).sort()).toEqual([
        ['node-a', true],
        ['node-b', true],
        ['node-c', false],
      ]);
      expect(status.nodes.find((n) => n.id === 'node-c')!.partitions).toEqual([]);
      expect(status.partitions.map((p) => p.owner)).toEqual(Array.from({ length: PARTITIONS }, (_, p) => (p % 2 === 0 ? 'node-a' : 'node-b')));
      await allImported('rows written before start');

      // Writes while both import nodes run, spread over every partition.
      for (let i = 0; i < 40; i++) write(`pre-${i}`, i % 8 === 0 ? 'delete' : 'update');
      for (let i = 0; i < 40; i++) write(`live-${i}`, 'insert');
      expect(new Set([...writes.keys()].map((id) => partitionOf(id, PARTITIONS))).size).toBe(PARTITIONS);
      await allImported('writes while both nodes run');
      noOverlap();
      expect(b.importStats.imported).toBeGreaterThan(0);

      // node-b dies without releasing anything: its leases and node record expire, node-a takes everything.
      await b.abandonForTests();
      for (let i = 0; i < 40; i++) write(`live-${i}`, 'update');
      for (let i = 0; i < 40; i++) write(`late-${i}`, 'insert');
      await until('node-a holds every partition', () => {
        noOverlap();
        return a.ownedPartitions().length === PARTITIONS;
      });
      expect(c.ownedPartitions()).toEqual([]);
      await allImported('writes after node-b died');

      // Exactly once: one gateway sequence per external write, none spent on a second import of the same write.
      const total = [...writes.values()].reduce((s, n) => s + n, 0);
      expect(await a.bucket.lastSequence()).toBe(total);
      expect(a.importStats.imported + b.importStats.imported + c.importStats.imported).toBe(total);
      const changes = await a.collection.readChanges({ since: 0 });
      expect(changes).toHaveLength(writes.size);
      const after = await a.importStatus();
      expect(after.nodes.map((n) => n.id).sort()).toEqual(['node-a', 'node-c']);
      expect(after.partitions.every((p) => p.owner === 'node-a')).toBe(true);
      await until('backlog drained', async () => (await a.importStatus()).pending === 0);
    } finally {
      app.close();
      for (const db of nodes) await db.close();
    }
  });

  it('releases its leases and node record on a clean close, so that the other node takes over at once', async () => {
    const path = join(dir, 'handover.sqlite');
    const server = `sqlite:${path}`;
    const logger = createLogger({ level: 'silent' });
    // A long TTL: only an explicit release can explain a quick takeover.
    const slow: DatabaseClusterOptions = { ...FAST, nodeTtlMs: 60_000, leaseTtlMs: 60_000 };
    const open = async (nodeId: string) =>
      Database.open('db', parseDatabaseConfig('db', { server, sync: SYNC }), await openSqliteBucket(path, { partitions: 4 }), logger, nodeId, {}, slow);
    const a = await open('node-a');
    const b = await open('node-b');
    try {
      await until('partitions split', () => a.ownedPartitions().length === 2 && b.ownedPartitions().length === 2);
      await b.close();
      await until('node-a holds every partition', () => a.ownedPartitions().length === 4, 5000);
      const status = await a.importStatus();
      expect(status.nodes.map((n) => n.id)).toEqual(['node-a']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
