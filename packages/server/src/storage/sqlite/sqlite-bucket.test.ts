import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSynclineError } from '../../base/errors.ts';
import type { Bucket } from '../bucket.ts';
import { runBucketContract, type DirectWriter } from '../contract.ts';
import { makeCommit, mutationsOf, save } from '../contract-support.ts';
import { openBucket } from '../open.ts';
import { MIGRATIONS } from './migrations.ts';
import { configureConnection, openSqliteBucket } from './sqlite-bucket.ts';

let dir = '';
let counter = 0;
const paths = new WeakMap<Bucket, string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncline-sqlite-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const freshPath = (): string => join(dir, `bucket-${++counter}.sqlite`);

function migrationRows(path: string): unknown[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT id, applied_at FROM schema_migrations ORDER BY id').all();
  } finally {
    db.close();
  }
}

async function makeBucket(): Promise<Bucket> {
  const path = freshPath();
  const bucket = await openSqliteBucket(path);
  paths.set(bucket, path);
  return bucket;
}

/** A server app: its own plain connection, only INSERT/UPDATE/DELETE on `documents`. */
async function directWriter(bucket: Bucket): Promise<DirectWriter> {
  const db = new Database(paths.get(bucket) ?? '', { fileMustExist: true, timeout: 5000 });
  return {
    insert: async (id, body) => void db.prepare('INSERT INTO documents(id, body) VALUES (?, ?)').run(id, body),
    update: async (id, body) => void db.prepare('UPDATE documents SET body=? WHERE id=?').run(body, id),
    delete: async (id) => void db.prepare('DELETE FROM documents WHERE id=?').run(id),
    close: async () => void db.close(),
  };
}

runBucketContract('sqlite', makeBucket, { directWriter });

describe('sqlite bucket files', () => {
  it('keeps data and partitions across reopen, without re-applying migrations', async () => {
    const path = join(dir, 'nested', 'deeper', 'reopen.sqlite');
    const first = await openSqliteBucket(path, { partitions: 8 });
    const result = await save(await first.collection(), 'a', { channels: ['x'] });
    await first.setRecord('r', 'v');
    await first.close();
    const before = migrationRows(path);
    expect(before).toHaveLength(MIGRATIONS.length);

    const second = await openSqliteBucket(path, { partitions: 32 });
    expect(second.partitions).toBe(8);
    const coll = await second.collection();
    expect((await coll.get('a'))?.metaCas).toBe(result.metaCas);
    expect((await coll.readChanges({ since: 0, channels: ['x'] })).map((c) => c.id)).toEqual(['a']);
    expect((await second.getRecord('r'))?.value).toBe('v');
    expect(await second.lastSequence()).toBe(result.seq);
    const next = await save(coll, 'b');
    expect(next.seq).toBe(result.seq + 1);
    expect(next.bodyCas).toBeGreaterThan(result.metaCas);
    await second.close();
    expect(migrationRows(path)).toEqual(before);
  });

  it('keeps live counts across reopen and computes them for a bucket created before they existed', async () => {
    const path = freshPath();
    const first = await openSqliteBucket(path);
    const [main, named] = [await first.collection(), await first.collection('shop.orders')];
    for (const id of ['a', 'b', 'c']) await save(main, id);
    await save(main, 'b', { rev: '2-b', body: null });
    await save(named, 'o1');
    await first.close();
    const reopened = await openSqliteBucket(path);
    expect(await (await reopened.collection()).countLive()).toBe(2);
    await reopened.close();

    const raw = new Database(path);
    raw.exec(`DROP TABLE live_counts; DELETE FROM schema_migrations WHERE id = '20261124_0002_live_counts'`);
    raw.close();
    const migrated = await openSqliteBucket(path);
    expect(await (await migrated.collection()).countLive()).toBe(2);
    expect(await (await migrated.collection('shop.orders')).countLive()).toBe(1);
    await migrated.close();
  });

  it('recreates the documents triggers of every collection of an older bucket', async () => {
    const path = freshPath();
    const first = await openSqliteBucket(path, { partitions: 4 });
    await first.collection('shop.orders');
    await first.close();
    const raw = new Database(path);
    for (const table of ['documents', 'documents_shop_orders']) {
      for (const t of ['after_insert', 'after_update', 'after_rename', 'after_delete']) raw.exec(`DROP TRIGGER "${table}_${t}"`);
    }
    raw.exec(`DELETE FROM schema_migrations WHERE id = '20261124_0003_cas_triggers'`);
    raw.close();
    const migrated = await openSqliteBucket(path);
    const app = new Database(path);
    for (const table of ['documents', 'documents_shop_orders']) app.prepare(`INSERT INTO ${table} (id, body, cas) VALUES ('x', '{}', 0)`).run();
    app.close();
    for (const name of [undefined, 'shop.orders']) {
      const coll = await migrated.collection(name);
      const cas = (await coll.get('x'))?.bodyCas;
      expect(cas).toBeGreaterThan(0);
      expect((await mutationsOf(migrated, coll, 'x')).map((m) => [m.op, m.cas])).toEqual([['insert', cas]]);
    }
    await migrated.close();
  });

  it('reads and commits batches of ids exactly as single ones, lone surrogates and NUL included', async () => {
    const bucket = await makeBucket();
    const coll = await bucket.collection();
    const ids = ['a\uD800', '\uDC00x', 'nul\u0000in', 'plain'];
    const results = await coll.commitMany(ids.map((id) => makeCommit(id, { expectedBodyCas: null, expectedMetaCas: null })));
    expect(results.every((r) => r.ok)).toBe(true);
    const singles = await Promise.all(ids.map((id) => coll.get(id)));
    const many = await coll.getMany(ids);
    expect([...many.values()]).toEqual(singles);
    expect([...many.keys()]).toEqual(singles.map((doc) => doc?.id));
    const again = await coll.commitMany(ids.map((id) => makeCommit(id, { expectedBodyCas: null, expectedMetaCas: null })));
    expect(again.every((r) => !r.ok)).toBe(true);
    await bucket.close();
  });

  it('runs in WAL mode with synchronous FULL and a busy timeout', async () => {
    const path = freshPath();
    const bucket = await openSqliteBucket(path);
    await bucket.close();
    const outside = new Database(path);
    expect(outside.pragma('journal_mode', { simple: true })).toBe('wal');
    outside.close();
    const db = new Database(freshPath());
    configureConnection(db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('recursive_triggers', { simple: true })).toBe(0);
    db.close();
  });

  it('exposes the documents table with exactly id, body, cas', async () => {
    const bucket = await makeBucket();
    const coll = await bucket.collection();
    expect(coll.documentsTable).toBe('documents');
    await bucket.close();
    const db = new Database(paths.get(bucket) ?? '');
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(documents)').all();
    expect(columns.map((c) => c.name)).toEqual(['id', 'body', 'cas']);
    db.close();
  });

  it('creates separate tables for a named collection, also after reopen', async () => {
    const path = freshPath();
    const bucket = await openSqliteBucket(path);
    const coll = await bucket.collection('shop.orders');
    expect(coll.documentsTable).toBe('documents_shop_orders');
    await save(coll, 'o1');
    await bucket.close();
    const again = await openSqliteBucket(path);
    expect((await (await again.collection('shop.orders')).get('o1'))?.body).toBe('{"id":"o1"}');
    await expect(again.collection('SHOP.orders')).rejects.toThrow(/share tables/);
    await again.close();
  });
});

describe('openBucket', () => {
  it('opens an in-memory bucket', async () => {
    await using bucket = await openBucket('sqlite::memory:');
    expect(bucket.engine).toBe('sqlite');
    expect(bucket.partitions).toBe(1);
    const coll = await bucket.collection();
    const result = await coll.commit(makeCommit('a', { expectedBodyCas: null, expectedMetaCas: null }));
    expect(result.ok).toBe(true);
    expect((await coll.get('a'))?.body).toBe('{"id":"a"}');
  });

  it('resolves relative paths against baseDir and accepts absolute ones', async () => {
    const relative = await openBucket('sqlite:./data/rel.sqlite', { baseDir: dir });
    await save(await relative.collection(), 'x');
    await relative.close();
    const absolute = await openBucket(`sqlite:${join(dir, 'data', 'rel.sqlite')}`);
    expect(await (await absolute.collection()).get('x')).not.toBeNull();
    await absolute.close();
  });

  it('rejects unsupported schemes with a bad_request error', async () => {
    const failure = async (url: string): Promise<unknown> => openBucket(url).then(() => null, (err: unknown) => err);
    for (const url of ['mysql://x', 'db.sqlite', 'sqlite:']) {
      const err = await failure(url);
      expect(isSynclineError(err) && err.error === 'bad_request').toBe(true);
    }
  });
});
