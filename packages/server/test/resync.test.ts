import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/base/logger.ts';
import { parseDatabaseConfig } from '../src/config/load.ts';
import { splitIncoming } from '../src/db/crud/incoming.ts';
import { writeDocument, writeDocuments } from '../src/db/crud/write.ts';
import { Database } from '../src/db/database.ts';
import { parseMeta } from '../src/db/doc-meta.ts';
import { resyncFinished, resyncStatus, startResync, stopResync } from '../src/db/resync.ts';
import { openBucket } from '../src/storage/open.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncline-resync-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function open(sync: string): Promise<Database> {
  const file = join(dir, 'db.sqlite');
  const bucket = await openBucket(`sqlite:${file}`);
  return Database.open('db', parseDatabaseConfig('db', { server: `sqlite:${file}`, sync }), bucket, createLogger({ level: 'silent' }), 'test');
}

const BY_TYPE = `function (doc) { channel(doc.type); if (doc.owner) access(doc.owner, doc.type); }`;
const BY_COLOR = `function (doc) { if (doc.bad) throw({forbidden: 'bad'}); channel(doc.color); if (doc.owner) access(doc.owner, doc.color); }`;

const metaOf = async (db: Database, id: string) => parseMeta((await db.collection.get(id))!.meta!);

describe('resync', () => {
  it('re-runs a new sync function over every document and re-sequences only those that changed', async () => {
    {
      await using db = await open(BY_TYPE);
      await writeDocuments(
        db,
        [
          splitIncoming({ _id: 'a', type: 'fruit', color: 'red', owner: 'alice' }),
          splitIncoming({ _id: 'b', type: 'veg', color: 'veg' }),
          splitIncoming({ _id: 'c', type: 'fruit', color: 'green', bad: true }),
        ],
        { newEdits: true },
      );
      const d = await writeDocument(db, splitIncoming({ _id: 'd', type: 'gone', color: 'blue' }), { newEdits: true });
      await writeDocument(db, splitIncoming({ _id: 'd', _rev: d.rev, _deleted: true }), { newEdits: true });
    }
    await using db = await open(BY_COLOR);
    const before = { a: await metaOf(db, 'a'), b: await metaOf(db, 'b'), d: await metaOf(db, 'd') };
    expect(() => startResync(db)).toThrow(expect.objectContaining({ status: 503, reason: 'Database must be _offline before calling _resync, current state: Online' }));

    db.setState('Offline');
    const started = startResync(db);
    expect(started).toMatchObject({ status: 'running', docs_processed: 0, docs_changed: 0 });
    expect(db.state).toBe('Resyncing');
    expect(() => startResync(db)).toThrow(expect.objectContaining({ status: 503, reason: 'Database _resync already in progress' }));
    const status = await resyncFinished(db);
    expect(status).toMatchObject({ status: 'completed', docs_processed: 4, docs_changed: 2, last_error: '' });
    expect(db.state).toBe('Offline');

    const a = await metaOf(db, 'a');
    expect(a.channels).toEqual(['red']);
    expect(a.rev).toBe(before.a.rev);
    expect(a.seq).toBeGreaterThan(before.a.seq);
    expect(a.removed).toEqual({ fruit: a.seq });
    expect(a.access).toEqual({ alice: ['red'] });
    const grants = await db.collection.readGrants(['alice']);
    expect(grants.map((g) => [g.item, g.revokedSeq])).toEqual([
      ['fruit', a.seq],
      ['red', null],
    ]);

    // The rejected document is left in no channel.
    const c = await metaOf(db, 'c');
    expect(c.channels).toEqual([]);
    expect(Object.keys(c.removed ?? {})).toEqual(['fruit']);

    // Unchanged documents keep their sequence; the tombstone had no channels either way.
    expect((await metaOf(db, 'b')).seq).toBe(before.b.seq);
    expect((await metaOf(db, 'd')).seq).toBe(before.d.seq);

    const red = await db.collection.readChanges({ since: 0, channels: ['red'] });
    expect(red.map((r) => r.id)).toEqual(['a']);
    const fruit = await db.collection.readChanges({ since: 0, channels: ['fruit'] });
    expect(fruit.map((r) => [r.id, r.removed])).toEqual([
      ['a', ['fruit']],
      ['c', ['fruit']],
    ]);

    // A second run finds nothing to change.
    startResync(db);
    expect(await resyncFinished(db)).toMatchObject({ status: 'completed', docs_processed: 4, docs_changed: 0 });
  });

  it('can be stopped, resumes where it stopped, and can regenerate every sequence', async () => {
    {
      await using db = await open(BY_TYPE);
      await writeDocuments(
        db,
        Array.from({ length: 30 }, (_, i) => splitIncoming({ _id: `doc${String(i).padStart(2, '0')}`, type: 't', color: 'c' })),
        { newEdits: true },
      );
    }
    await using db = await open(BY_COLOR);
    db.setState('Offline');
    await expect(stopResync(db)).rejects.toMatchObject({ status: 400, reason: 'Database _resync is not running' });
    startResync(db);
    const stopped = await stopResync(db);
    expect(stopped.status).toBe('stopped');
    expect(db.state).toBe('Offline');
    expect(stopped.docs_processed).toBeLessThan(30);

    startResync(db);
    const resumed = await resyncFinished(db);
    expect(resumed).toMatchObject({ status: 'completed', docs_processed: 30, docs_changed: 30, resync_id: stopped.resync_id });

    const seqBefore = (await metaOf(db, 'doc00')).seq;
    startResync(db, { regenerateSequences: true, reset: true });
    const regenerated = await resyncFinished(db);
    expect(regenerated).toMatchObject({ status: 'completed', docs_processed: 30, docs_changed: 30 });
    expect(regenerated.resync_id).not.toBe(stopped.resync_id);
    expect((await metaOf(db, 'doc00')).seq).toBeGreaterThan(seqBefore);
    expect(resyncStatus(db).status).toBe('completed');
  });
});
