import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/base/logger.ts';
import { parseDatabaseConfig } from '../src/config/load.ts';
import { loadCurrent } from '../src/db/crud/read.ts';
import { splitIncoming } from '../src/db/crud/incoming.ts';
import { writeDocument } from '../src/db/crud/write.ts';
import { Database } from '../src/db/database.ts';
import { parseMeta, type SyncMeta } from '../src/db/doc-meta.ts';
import { openBucket } from '../src/storage/open.ts';

let dir = '';
let counter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncline-import-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SYNC = `function (doc, oldDoc) {
  if (oldDoc !== null) throw({forbidden: 'imports must see oldDoc null'});
  requireAdmin();
  channel(doc._deleted ? [] : doc.channels);
  if (doc.owner) access(doc.owner, doc.channels);
}`;

const DEFAULT_SYNC = 'function (doc) { channel(doc.channels); }';

interface Env extends AsyncDisposable {
  db: Database;
  /** A separate connection, as a server app has. */
  app: BetterSqlite.Database;
}

async function open(config: Record<string, unknown> = {}): Promise<Env> {
  const path = join(dir, `import-${++counter}.sqlite`);
  const server = `sqlite:${path}`;
  const bucket = await openBucket(server);
  const db = await Database.open('db', parseDatabaseConfig('db', { server, sync: SYNC, ...config }), bucket, createLogger({ level: 'silent' }), 'test');
  const app = new BetterSqlite(path, { timeout: 5000 });
  return {
    db,
    app,
    [Symbol.asyncDispose]: async () => {
      app.close();
      await db.close();
    },
  };
}

const meta = async (db: Database, id: string): Promise<SyncMeta | null> => {
  const stored = await db.collection.get(id);
  return stored?.meta ? parseMeta(stored.meta) : null;
};

async function waitFor<T>(check: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not met');
}

const rowBody = (env: Env, id: string): string | undefined =>
  env.app.prepare<[string], string>('SELECT body FROM documents WHERE id = ?').pluck().get(id);

describe('import of direct writes', () => {
  it('imports an app INSERT, UPDATE and DELETE as revisions, never rewriting the row', async () => {
    await using env = await open();
    const { db, app } = env;
    const text = '{ "channels": ["news"],  "title": "Hello", "owner": "ann" }';
    app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('a', text);
    const first = await waitFor(() => meta(db, 'a'));
    expect(first.rev).toMatch(/^1-/);
    expect(first.channels).toEqual(['news']);
    expect(rowBody(env, 'a')).toBe(text);
    expect((await db.collection.readGrants(['ann'])).map((g) => g.item)).toEqual(['news']);

    app.prepare('UPDATE documents SET body = ? WHERE id = ?').run('{"channels":["sports"],"title":"Updated"}', 'a');
    const second = await waitFor(async () => {
      const m = await meta(db, 'a');
      return m && m.rev.startsWith('2-') ? m : null;
    });
    expect(second.tree[second.rev]!.parent).toBe(first.rev);
    expect(second.channels).toEqual(['sports']);
    expect(second.removed).toHaveProperty('news');
    expect(rowBody(env, 'a')).toBe('{"channels":["sports"],"title":"Updated"}');
    // The grant went with the revision that made it.
    expect((await db.collection.readGrants(['ann']))[0]!.revokedSeq).not.toBeNull();

    app.prepare('DELETE FROM documents WHERE id = ?').run('a');
    const third = await waitFor(async () => {
      const m = await meta(db, 'a');
      return m && m.deleted ? m : null;
    });
    expect(third.rev).toMatch(/^3-/);
    const changes = await db.collection.readChanges({ since: 0 });
    expect(changes.map((c) => [c.id, c.rev, c.deleted])).toEqual([['a', third.rev, true]]);
    expect(db.importStats.imported).toBe(3);
  });

  it('does not import the gateway’s own writes again', async () => {
    await using env = await open({ sync: DEFAULT_SYNC });
    const { db } = env;
    const { rev } = await writeDocument(db, splitIncoming({ _id: 'g', channels: ['x'] }), { newEdits: true });
    await writeDocument(db, splitIncoming({ _id: 'g', _rev: rev, channels: ['y'] }), { newEdits: true });
    await waitFor(async () => db.importStats.mutationsRead >= 2);
    expect((await meta(db, 'g'))!.rev).toMatch(/^2-/);
    expect(db.importStats.imported).toBe(0);
  });

  it('imports on demand when a client reads or writes a document before the import worker gets to it', async () => {
    await using env = await open({ import_docs: false, sync: DEFAULT_SYNC });
    const { db, app } = env;
    app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('d', '{"v":1}');
    const current = await loadCurrent(db, 'd');
    expect(current.meta?.rev).toMatch(/^1-/);
    app.prepare('UPDATE documents SET body = ? WHERE id = ?').run('{"v":2}', 'd');
    // A client that still builds on revision 1 conflicts with the app's update, which is imported first.
    await expect(writeDocument(db, splitIncoming({ _id: 'd', _rev: current.meta!.rev, v: 3 }), { newEdits: true })).rejects.toMatchObject({ status: 409 });
    const latest = await meta(db, 'd');
    expect(latest!.rev).toMatch(/^2-/);
    expect(rowBody(env, 'd')).toBe('{"v":2}');
    const { rev } = await writeDocument(db, splitIncoming({ _id: 'd', _rev: latest!.rev, v: 3 }), { newEdits: true });
    expect(rev).toMatch(/^3-/);
    expect(JSON.parse(rowBody(env, 'd')!)).toEqual({ v: 3 });
  });

  it('leaves documents the import filter refuses invisible, and imports them once they pass', async () => {
    await using env = await open({ import_filter: 'function (doc) { return doc.type === "mobile"; }' });
    const { db, app } = env;
    app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('server-only', '{"type":"server"}');
    app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('shared', '{"type":"mobile"}');
    await waitFor(() => meta(db, 'shared'));
    await waitFor(async () => db.importStats.filtered >= 1);
    expect(await meta(db, 'server-only')).toBeNull();
    await expect(loadCurrent(db, 'server-only')).rejects.toMatchObject({ status: 404, reason: 'Not imported' });
    app.prepare('UPDATE documents SET body = ? WHERE id = ?').run('{"type":"mobile"}', 'server-only');
    expect((await waitFor(() => meta(db, 'server-only'))).rev).toMatch(/^1-/);
  });

  it('skips bodies that cannot be documents, counting and logging them, and keeps importing the rest', async () => {
    await using env = await open({ max_document_size: 100 });
    const { db, app } = env;
    const insert = app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)');
    insert.run('bad-json', '{not json');
    insert.run('array', '[1,2,3]');
    insert.run('reserved', '{"_rev":"1-abc"}');
    insert.run('too-big', JSON.stringify({ pad: 'x'.repeat(200) }));
    insert.run('_bad_id', '{}');
    insert.run('good', '{"ok":true}');
    await waitFor(() => meta(db, 'good'));
    await waitFor(async () => db.importStats.failed >= 5);
    for (const id of ['bad-json', 'array', 'reserved', 'too-big', '_bad_id']) expect(await meta(db, id)).toBeNull();
    expect(rowBody(env, 'bad-json')).toBe('{not json');
    // Reading a refused row again does not evaluate, log or count it again until the app writes it anew.
    const failed = db.importStats.failed;
    await expect(loadCurrent(db, 'bad-json')).rejects.toMatchObject({ status: 404, reason: 'Not imported' });
    await expect(loadCurrent(db, 'bad-json')).rejects.toMatchObject({ status: 404 });
    expect(db.importStats.failed).toBe(failed);
    app.prepare('UPDATE documents SET body = ? WHERE id = ?').run('{"fixed":true}', 'bad-json');
    expect((await loadCurrent(db, 'bad-json')).meta?.rev).toMatch(/^1-/);
  });

  it('records a sync-function rejection as a failed import', async () => {
    await using env = await open({ sync: 'function (doc) { if (doc.forbidden) throw({forbidden: "no"}); channel(doc.channels); }' });
    const { db, app } = env;
    app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('refused', '{"forbidden":true}');
    app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('fine', '{"channels":["c"]}');
    await waitFor(() => meta(db, 'fine'));
    await waitFor(async () => db.importStats.failed >= 1);
    expect(await meta(db, 'refused')).toBeNull();
  });

  it('catches up at start with rows written while no node was importing', async () => {
    const path = join(dir, `import-${++counter}.sqlite`);
    const server = `sqlite:${path}`;
    {
      const bucket = await openBucket(server);
      await bucket.collection();
      await bucket.close();
    }
    const app = new BetterSqlite(path, { timeout: 5000 });
    const insert = app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)');
    app.transaction(() => {
      for (let i = 0; i < 1200; i++) insert.run(`pre-${String(i).padStart(4, '0')}`, JSON.stringify({ i }));
    })();
    // The log is gone (as after a trim by an earlier node): only the full check can find these rows.
    app.exec('DELETE FROM mutations');
    app.close();
    const bucket = await openBucket(server);
    const db = await Database.open('db', parseDatabaseConfig('db', { server }), bucket, createLogger({ level: 'silent' }), 'test');
    try {
      await waitFor(async () => (await db.collection.countLive()) === 1200);
      expect(db.importStats.imported).toBe(1200);
    } finally {
      await db.close();
    }
  });

  it('resumes from its checkpoint after a restart without importing anything twice', async () => {
    const path = join(dir, `import-${++counter}.sqlite`);
    const server = `sqlite:${path}`;
    const openDb = async () => Database.open('db', parseDatabaseConfig('db', { server }), await openBucket(server), createLogger({ level: 'silent' }), 'test');
    let db = await openDb();
    const app = new BetterSqlite(path, { timeout: 5000 });
    try {
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('r1', '{"v":1}');
      await waitFor(() => meta(db, 'r1'));
      await db.close();
      app.prepare('UPDATE documents SET body = ? WHERE id = ?').run('{"v":2}', 'r1');
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('r2', '{"v":1}');
      db = await openDb();
      await waitFor(async () => (await meta(db, 'r1'))?.rev.startsWith('2-') && (await meta(db, 'r2')));
      expect(db.importStats.imported).toBe(2);
      const revs = Object.keys((await meta(db, 'r1'))!.tree);
      expect(revs).toHaveLength(2);
    } finally {
      app.close();
      await db.close();
    }
  });
});
