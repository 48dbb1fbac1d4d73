import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { save } from '../contract-support.ts';
import { openSqliteBucket } from './sqlite-bucket.ts';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncline-tombstones-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const indexesOf = (db: Database.Database, table: string): string[] =>
  db.prepare<[string], string>(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name`).pluck().all(table);

describe('sqlite tombstone index', () => {
  it('lists tombstones through the partial index, without scanning live documents', async () => {
    const path = join(dir, 'plan.sqlite');
    const bucket = await openSqliteBucket(path);
    await bucket.collection('shop.orders');
    await bucket.close();
    const raw = new Database(path, { readonly: true });
    try {
      expect(indexesOf(raw, 'sync_meta')).toContain('sync_meta_tombstones');
      expect(indexesOf(raw, 'sync_meta_shop_orders')).toContain('sync_meta_shop_orders_tombstones');
      const plan = raw
        .prepare<[], { detail: string }>(`EXPLAIN QUERY PLAN SELECT id, meta, cas, seq, deleted FROM sync_meta WHERE deleted = 1 AND id > '' ORDER BY id LIMIT 10`)
        .all()
        .map((row) => row.detail)
        .join('\n');
      expect(plan).toContain('sync_meta_tombstones');
      expect(plan).not.toContain('TEMP B-TREE');
    } finally {
      raw.close();
    }
  });

  it('adds the index to every collection of a bucket created before it existed', async () => {
    const path = join(dir, 'older.sqlite');
    const first = await openSqliteBucket(path);
    await save(await first.collection(), 'gone', { body: null });
    await save(await first.collection('shop.orders'), 'o1', { body: null });
    await first.close();
    const raw = new Database(path);
    raw.exec(`DROP INDEX sync_meta_tombstones; DROP INDEX sync_meta_shop_orders_tombstones;
      DELETE FROM schema_migrations WHERE id = '20261126_0006_tombstone_index'`);
    raw.close();

    const migrated = await openSqliteBucket(path);
    const check = new Database(path, { readonly: true });
    try {
      expect(indexesOf(check, 'sync_meta')).toContain('sync_meta_tombstones');
      expect(indexesOf(check, 'sync_meta_shop_orders')).toContain('sync_meta_shop_orders_tombstones');
    } finally {
      check.close();
    }
    expect((await (await migrated.collection()).listTombstones('', 10)).map((r) => r.id)).toEqual(['gone']);
    expect((await (await migrated.collection('shop.orders')).listTombstones('', 10)).map((r) => r.id)).toEqual(['o1']);
    await migrated.close();
  });
});
