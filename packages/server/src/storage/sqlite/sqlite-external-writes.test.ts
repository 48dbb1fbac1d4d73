import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Bucket, Collection, MutationRecord } from '../bucket.ts';
import { makeCommit, mutationsOf } from '../contract-support.ts';
import { partitionOf, partitionSql } from './partition.ts';
import { openSqliteBucket } from './sqlite-bucket.ts';

let dir = '';
let counter = 0;
let bucket: Bucket;
let coll: Collection;
let app: Database.Database;
let path = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncline-external-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  path = join(dir, `app-${++counter}.sqlite`);
  bucket = await openSqliteBucket(path, { partitions: 16 });
  coll = await bucket.collection();
  app = new Database(path, { timeout: 5000 });
});
afterEach(async () => {
  app.close();
  await bucket.close();
});

const casOf = (id: string): number | undefined =>
  app.prepare<[string], number>('SELECT cas FROM documents WHERE id = ?').pluck().get(id);

async function allMutations(): Promise<MutationRecord[]> {
  const all: MutationRecord[] = [];
  for (let p = 0; p < bucket.partitions; p++) all.push(...(await coll.readMutations(p, 0, 10_000)));
  return all.sort((a, b) => a.position - b.position);
}

describe('writes by a server app with plain SQL', () => {
  it('get cas-stamped and logged with op, cas and the id partition', async () => {
    const stamps: (number | undefined)[] = [];
    app.prepare('INSERT INTO documents(id, body) VALUES (?, ?)').run('a', '{"v":1}');
    stamps.push(casOf('a'));
    app.prepare('INSERT INTO documents(id, body) VALUES (?, ?)').run('b', '{"v":1}');
    stamps.push(casOf('b'));
    app.prepare('UPDATE documents SET body=? WHERE id=?').run('{"v":2}', 'a');
    stamps.push(casOf('a'));
    app
      .prepare('INSERT INTO documents(id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body')
      .run('b', '{"v":2}');
    stamps.push(casOf('b'));
    app.prepare('DELETE FROM documents WHERE id=?').run('a');

    expect(stamps.every((cas) => typeof cas === 'number')).toBe(true);
    expect([...stamps].sort((x = 0, y = 0) => x - y)).toEqual(stamps);
    expect(new Set(stamps).size).toBe(stamps.length);
    expect((await allMutations()).map((m) => [m.id, m.op, m.cas, m.partition])).toEqual([
      ['a', 'insert', stamps[0], partitionOf('a', 16)],
      ['b', 'insert', stamps[1], partitionOf('b', 16)],
      ['a', 'update', stamps[2], partitionOf('a', 16)],
      ['b', 'update', stamps[3], partitionOf('b', 16)],
      ['a', 'delete', null, partitionOf('a', 16)],
    ]);
    expect((await coll.get('b'))?.bodyCas).toBe(stamps[3]);
  });

  it('overrides a cas the app tries to set and ignores cas-only updates', async () => {
    app.prepare('INSERT INTO documents(id, body, cas) VALUES (?, ?, ?)').run('x', '{}', 999_999);
    const stamped = casOf('x');
    expect(stamped).toBeLessThan(999_999);
    app.prepare('UPDATE documents SET cas = 5 WHERE id = ?').run('x');
    expect((await mutationsOf(bucket, coll, 'x')).map((m) => m.op)).toEqual(['insert']);
  });

  it('logs a rename as a delete of the old id and an insert of the new one', async () => {
    app.prepare('INSERT INTO documents(id, body) VALUES (?, ?)').run('old', '{}');
    app.prepare('UPDATE documents SET id = ? WHERE id = ?').run('new', 'old');
    expect((await mutationsOf(bucket, coll, 'old')).map((m) => m.op)).toEqual(['insert', 'delete']);
    const [inserted] = await mutationsOf(bucket, coll, 'new');
    expect(inserted).toMatchObject({ op: 'insert', cas: casOf('new'), partition: partitionOf('new', 16) });
  });

  it('interleaves with gateway commits on one cas counter', async () => {
    const first = await coll.commit(makeCommit('g', { expectedBodyCas: null, expectedMetaCas: null }));
    app.prepare('INSERT INTO documents(id, body) VALUES (?, ?)').run('e', '{}');
    const second = await coll.commit(makeCommit('g2', { expectedBodyCas: null, expectedMetaCas: null }));
    if (!first.ok || !second.ok) throw new Error('commit failed');
    expect(casOf('e')).toBe(first.metaCas + 1);
    expect(second.bodyCas).toBe(first.metaCas + 2);
    expect(casOf('g2')).toBe(second.bodyCas);
  });

  it('reports correct body cas values even when an app trigger also writes documents', async () => {
    app.exec(`CREATE TRIGGER app_audit AFTER INSERT ON documents WHEN NEW.id NOT LIKE 'audit:%'
      BEGIN INSERT INTO documents(id, body) VALUES ('audit:' || NEW.id, '{}'); END`);
    const results = await coll.commitMany(
      ['p', 'q', 'r'].map((id) => makeCommit(id, { expectedBodyCas: null, expectedMetaCas: null })),
    );
    for (const [i, id] of ['p', 'q', 'r'].entries()) {
      const result = results[i];
      if (!result?.ok) throw new Error('commit failed');
      expect(result.bodyCas).toBe(casOf(id));
      expect(result.metaCas).toBe((await coll.get(id))?.metaCas);
    }
    expect(casOf('audit:p')).toBeDefined();
  });

  it('waits for a write lock held by another process instead of failing', async () => {
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const Database = require(workerData.module);
       const db = new Database(workerData.path, { timeout: 5000 });
       db.exec('BEGIN IMMEDIATE');
       db.prepare('INSERT INTO documents(id, body) VALUES (?, ?)').run('held', '{}');
       parentPort.postMessage('locked');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
       db.exec('COMMIT');
       db.close();`,
      { eval: true, workerData: { path, module: createRequire(import.meta.url).resolve('better-sqlite3') } },
    );
    await once(worker, 'message');
    const started = Date.now();
    const result = await coll.commit(makeCommit('mine', { expectedBodyCas: null, expectedMetaCas: null }));
    expect(result.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(casOf('held')).toBeLessThan(casOf('mine') ?? 0);
    await once(worker, 'exit');
  });
});

describe('partition hash', () => {
  const ids = [
    'a', 'doc-1', 'doc-2', 'user::42', 'é', '日本語のキー', '\u{1F600}x', 'x\u{1F600}', 'a'.repeat(300), 'Ab', 'bA',
    ...Array.from({ length: 200 }, (_, i) => `doc-${i}`),
  ];

  it('matches the SQL expression used by the triggers', () => {
    const db = new Database(':memory:');
    for (const partitions of [1, 7, 16, 64]) {
      const stmt = db
        .prepare<[string], number>(`WITH k(id) AS (SELECT ?) SELECT ${partitionSql('k.id', partitions)} FROM k`)
        .pluck();
      for (const id of ids) expect([id, stmt.get(id)]).toEqual([id, partitionOf(id, partitions)]);
    }
    db.close();
  });

  it('is in range and spreads sequential and random ids', () => {
    for (const sample of [
      Array.from({ length: 200 }, (_, i) => `doc-${i}`),
      Array.from({ length: 200 }, (_, i) => `order:${String(i).padStart(8, '0')}`),
      Array.from({ length: 200 }, () => crypto.randomUUID()),
    ]) {
      const counts = new Array<number>(16).fill(0);
      for (const id of sample) {
        const p = partitionOf(id, 16);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(16);
        counts[p] = (counts[p] ?? 0) + 1;
      }
      expect(counts.filter((n) => n > 0).length).toBeGreaterThanOrEqual(12);
      expect(Math.max(...counts)).toBeLessThan(200 / 4);
    }
  });
});
