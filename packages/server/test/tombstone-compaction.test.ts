import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/base/logger.ts';
import { parseDatabaseConfig } from '../src/config/load.ts';
import { tombstoneCompactionPeriodMs } from '../src/db/compactions.ts';
import { splitIncoming } from '../src/db/crud/incoming.ts';
import { writeDocument } from '../src/db/crud/write.ts';
import { Database } from '../src/db/database.ts';
import { parseMeta, serializeMeta } from '../src/db/doc-meta.ts';
import { compactTombstones, DAY_MS } from '../src/db/tombstone-compaction.ts';
import { openBucket } from '../src/storage/open.ts';
import { memoryDatabase } from './support/memory-db.ts';

const HOUR = 3_600_000;

const put = (db: Database, raw: Record<string, unknown>) => writeDocument(db, splitIncoming(raw), { newEdits: true });
const remove = async (db: Database, id: string) => {
  const current = parseMeta((await db.collection.get(id))!.meta!);
  return put(db, { _id: id, _rev: current.rev, _deleted: true });
};
const changedIds = async (db: Database, channels?: string[]) =>
  (await db.collection.readChanges({ since: 0, ...(channels ? { channels } : {}) })).map((c) => c.id);
const tombstoneIds = async (db: Database) => (await db.collection.listTombstones('', 1000)).map((r) => r.id);
const tombstonedAt = async (db: Database, id: string) => parseMeta((await db.collection.get(id))!.meta!).tombstonedAt!;

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('tombstone compaction', () => {
  it('purges tombstones older than the interval and leaves newer tombstones and live documents alone', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    vi.setSystemTime(t0);
    await using db = await memoryDatabase();
    await put(db, { _id: 'old', channels: ['c'] });
    await remove(db, 'old');
    await put(db, { _id: 'live', channels: ['c'] });
    vi.setSystemTime(t0 + HOUR / 2);
    await put(db, { _id: 'new', channels: ['c'] });
    await remove(db, 'new');
    expect(await tombstonedAt(db, 'old')).toBe(t0);
    expect(await tombstonedAt(db, 'new')).toBe(t0 + HOUR / 2);
    const liveBefore = await db.collection.get('live');

    expect(await compactTombstones(db, { olderThanMs: HOUR, now: t0 + HOUR })).toBe(0);
    expect(await compactTombstones(db, { olderThanMs: HOUR, now: t0 + HOUR + 1 })).toBe(1);
    expect(await db.collection.get('old')).toBeNull();
    expect(await tombstoneIds(db)).toEqual(['new']);
    expect(await db.collection.get('live')).toEqual(liveBefore);
    expect(await changedIds(db)).toEqual(['live', 'new']);
    expect(await changedIds(db, ['c'])).toEqual(['live', 'new']);
    expect(await db.collection.countLive()).toBe(1);

    expect(await compactTombstones(db, { olderThanMs: HOUR, now: t0 + 2 * HOUR })).toBe(1);
    expect(await tombstoneIds(db)).toEqual([]);
    expect(await changedIds(db)).toEqual(['live']);
    expect(await db.collection.get('live')).toEqual(liveBefore);
  });

  it('dates tombstones written without tombstonedAt by their last save', async () => {
    await using db = await memoryDatabase();
    await put(db, { _id: 'legacy' });
    await remove(db, 'legacy');
    const stored = (await db.collection.get('legacy'))!;
    const { tombstonedAt: _dropped, ...meta } = parseMeta(stored.meta!);
    const savedAt = Date.parse(meta.timeSaved);
    const rewritten = await db.collection.commit({
      id: 'legacy',
      expectedBodyCas: null,
      expectedMetaCas: stored.metaCas,
      body: undefined,
      build: (seq) => ({ meta: serializeMeta({ ...meta, seq }), deleted: true, change: { rev: meta.rev, deleted: true, channels: [], removed: [] } }),
    });
    expect(rewritten.ok).toBe(true);
    expect(parseMeta((await db.collection.get('legacy'))!.meta!).tombstonedAt).toBeUndefined();

    expect(await compactTombstones(db, { olderThanMs: DAY_MS, now: savedAt + DAY_MS })).toBe(0);
    expect(await compactTombstones(db, { olderThanMs: DAY_MS, now: savedAt + DAY_MS + 1 })).toBe(1);
    expect(await db.collection.get('legacy')).toBeNull();
  });

  it('keeps a tombstone recreated between the listing and the purge', async () => {
    await using db = await memoryDatabase();
    await put(db, { _id: 'phoenix' });
    const deleted = await remove(db, 'phoenix');
    const list = db.collection.listTombstones.bind(db.collection);
    vi.spyOn(db.collection, 'listTombstones').mockImplementationOnce(async (after, limit) => {
      const rows = await list(after, limit);
      await put(db, { _id: 'phoenix', _rev: deleted.rev, risen: true });
      return rows;
    });
    expect(await compactTombstones(db, { olderThanMs: 0, now: Date.now() + 1000 })).toBe(0);
    const meta = parseMeta((await db.collection.get('phoenix'))!.meta!);
    expect(meta.deleted).toBe(false);
    expect(await changedIds(db)).toEqual(['phoenix']);
  });

  it('keeps a recreated document, however old its earlier tombstone', async () => {
    await using db = await memoryDatabase();
    await put(db, { _id: 'again', v: 1 });
    await remove(db, 'again');
    await put(db, { _id: 'again', v: 2 });
    expect(await compactTombstones(db, { olderThanMs: 0, now: Date.now() + DAY_MS })).toBe(0);
    expect((await db.collection.get('again'))?.body).toBe('{"v":2}');
  });

  it('keeps a tombstone whose row an app inserted again with SQL, awaiting import', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncline-tombstones-'));
    try {
      const path = join(dir, 'db.sqlite');
      const config = parseDatabaseConfig('db', { server: `sqlite:${path}`, import_docs: false });
      await using db = await Database.open('db', config, await openBucket(`sqlite:${path}`), createLogger({ level: 'silent' }), 'test');
      await put(db, { _id: 'returning', v: 1 });
      await remove(db, 'returning');
      const app = new SqliteDatabase(path);
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('returning', '{"v":"from sql"}');
      app.close();

      expect(await compactTombstones(db, { olderThanMs: 0, now: Date.now() + DAY_MS })).toBe(0);
      const stored = await db.collection.get('returning');
      expect(stored?.body).toBe('{"v":"from sql"}');
      expect(parseMeta(stored!.meta!).deleted).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pages through many tombstones and reports progress', async () => {
    await using db = await memoryDatabase();
    for (let i = 0; i < 1100; i++) await put(db, { _id: `t${String(i).padStart(4, '0')}`, _deleted: true });
    await put(db, { _id: 'kept' });
    const progress: number[] = [];
    expect(await compactTombstones(db, { olderThanMs: 0, now: Date.now() + 1, onProgress: (n) => progress.push(n) })).toBe(1100);
    expect(progress).toEqual([500, 1000, 1100]);
    expect(await tombstoneIds(db)).toEqual([]);
    expect(await changedIds(db)).toEqual(['kept']);
  });
});

describe('compactions of a database', () => {
  it('runs a tombstone compaction on demand with Sync Gateway status, one at a time', async () => {
    await using db = await memoryDatabase({ metadata_purge_interval: 1 });
    expect(db.compactions.tombstone.status()).toEqual({ status: 'stopped', start_time: '0001-01-01T00:00:00Z', last_error: '', docs_purged: 0 });
    await put(db, { _id: 'gone' });
    await remove(db, 'gone');
    const deletedAt = await tombstonedAt(db, 'gone');

    const first = db.compactions.compactTombstones(deletedAt + DAY_MS + 1);
    expect(db.compactions.running).toBe(true);
    expect((await db.info()).compact_running).toBe(true);
    expect(() => db.compactions.compactTombstones()).toThrow(expect.objectContaining({ status: 503, reason: 'Database compact already in progress' }));
    const status = await first;
    expect(status).toMatchObject({ status: 'completed', last_error: '', docs_purged: 1 });
    expect(Date.parse(status.start_time)).toBeGreaterThan(0);
    expect(db.compactions.tombstone.status()).toEqual(status);
    expect((await db.info()).compact_running).toBe(false);
    expect(() => db.compactions.tombstone.stop()).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('stops a run between documents on request', async () => {
    await using db = await memoryDatabase();
    for (const id of ['a', 'b', 'c']) await put(db, { _id: id, _deleted: true });
    const purge = db.collection.purge.bind(db.collection);
    vi.spyOn(db.collection, 'purge').mockImplementation(async (id, opts) => {
      const done = await purge(id, opts);
      if (db.compactions.tombstone.status().status === 'running') expect(db.compactions.tombstone.stop().status).toBe('stopping');
      return done;
    });
    const status = await db.compactions.compactTombstones(Date.now() + 4 * DAY_MS);
    expect(status).toMatchObject({ status: 'stopped', docs_purged: 1 });
    expect(await tombstoneIds(db)).toEqual(['b', 'c']);
  });

  it('records a failed run as an error and keeps serving', async () => {
    await using db = await memoryDatabase();
    vi.spyOn(db.collection, 'listTombstones').mockRejectedValueOnce(new Error('disk on fire'));
    expect(await db.compactions.compactTombstones()).toMatchObject({ status: 'error', last_error: 'disk on fire' });
    expect(await db.compactions.compactTombstones()).toMatchObject({ status: 'completed', last_error: '', docs_purged: 0 });
  });

  it('runs attachment compaction with its own status, dry runs removing nothing', async () => {
    await using db = await memoryDatabase();
    await db.bucket.putBlob('sha1-unreferenced', Buffer.from('x'));
    const dry = await db.compactions.compactAttachments({ dryRun: true });
    expect(dry).toMatchObject({ status: 'completed', purged_attachments: 1, marked_attachments: 0, dry_run: true });
    expect(dry.compact_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await db.bucket.hasBlob('sha1-unreferenced')).toBe(true);
    const real = await db.compactions.compactAttachments();
    expect(real).toMatchObject({ status: 'completed', purged_attachments: 1 });
    expect(real).not.toHaveProperty('dry_run');
    expect(await db.bucket.hasBlob('sha1-unreferenced')).toBe(false);
    expect(db.compactions.tombstone.status().status).toBe('stopped');
  });
});

describe('periodic tombstone compaction', () => {
  it('runs every half interval, at least every second and at most every hour', () => {
    expect(tombstoneCompactionPeriodMs(3)).toBe(HOUR);
    expect(tombstoneCompactionPeriodMs(1 / 24)).toBe(HOUR / 2);
    expect(tombstoneCompactionPeriodMs(0.00002)).toBe(1000);
  });

  it('purges a tombstone once the interval has passed, on its own timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date'] });
    await using db = await memoryDatabase({ metadata_purge_interval: 1 / 24, import_docs: false });
    await put(db, { _id: 'live' });
    await put(db, { _id: 'gone' });
    await remove(db, 'gone');

    await vi.advanceTimersByTimeAsync(HOUR / 2 + 10);
    expect(db.compactions.tombstone.status()).toMatchObject({ status: 'completed', docs_purged: 0 });
    expect(await tombstoneIds(db)).toEqual(['gone']);

    // Short of the interval since the deletion, the tombstone stays; a run after it purges it.
    await vi.advanceTimersByTimeAsync(HOUR / 2 - 60_000);
    expect(await tombstoneIds(db)).toEqual(['gone']);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(await tombstoneIds(db)).toEqual([]);
    expect(db.compactions.tombstone.status()).toMatchObject({ status: 'completed', docs_purged: 1 });
    expect(await changedIds(db)).toEqual(['live']);
  });

  it('survives a failing run and skips its turn while a run started on demand is in progress', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date'] });
    await using db = await memoryDatabase({ metadata_purge_interval: 1 / 24, import_docs: false });
    const list = vi.spyOn(db.collection, 'listTombstones');
    list.mockRejectedValueOnce(new Error('transient'));
    await vi.advanceTimersByTimeAsync(HOUR / 2 + 10);
    expect(list).toHaveBeenCalledTimes(1);
    expect(db.compactions.tombstone.status()).toMatchObject({ status: 'error', last_error: 'transient' });

    let release = (): void => undefined;
    list.mockImplementationOnce(() => new Promise((resolve) => (release = () => resolve([]))));
    const onDemand = db.compactions.compactTombstones();
    await vi.advanceTimersByTimeAsync(HOUR / 2);
    expect(list).toHaveBeenCalledTimes(2);
    expect(db.compactions.tombstone.status().status).toBe('running');
    release();
    expect(await onDemand).toMatchObject({ status: 'completed' });
    await vi.advanceTimersByTimeAsync(HOUR / 2);
    expect(list).toHaveBeenCalledTimes(3);
    expect(db.compactions.tombstone.status().status).toBe('completed');
  });

  it('stops its timer when the database closes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date'] });
    const db = await memoryDatabase({ metadata_purge_interval: 1 / 24, import_docs: false });
    const list = vi.spyOn(db.collection, 'listTombstones');
    await db.close();
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    expect(list).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});
