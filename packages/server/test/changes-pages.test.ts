import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readChangesBatch } from '../src/db/changes.ts';
import type { Database } from '../src/db/database.ts';
import { plain } from '../src/db/feed-position.ts';
import type { ChangesQuery, ChangeRecord } from '../src/storage/bucket.ts';
import { save } from '../src/storage/contract-support.ts';
import { memoryDatabase } from './support/memory-db.ts';

let db: Database;

beforeEach(async () => {
  db = await memoryDatabase();
});
afterEach(async () => {
  await db.close();
});

describe('a changes batch read over several pages', () => {
  it('lists a document updated between two page reads once, at its latest sequence', async () => {
    for (let i = 0; i < 600; i++) await save(db.collection, `doc-${String(i).padStart(3, '0')}`, { rev: '1-a', channels: ['c'] });
    db.notifier.announce(await db.bucket.lastSequence());
    // Another writer updates doc-000 right after the first page (500 entries) has been read.
    const readChanges = db.collection.readChanges.bind(db.collection);
    let pages = 0;
    db.collection.readChanges = async (query: ChangesQuery): Promise<ChangeRecord[]> => {
      const page = await readChanges(query);
      if (++pages === 1) {
        const result = await save(db.collection, 'doc-000', { rev: '2-b', channels: ['c'] });
        db.notifier.announce(result.seq);
      }
      return page;
    };
    for (const user of [null, 'GUEST']) {
      pages = 0;
      if (user) await db.auth.putUser(user, { disabled: false, admin_channels: ['c'] });
      const batch = await readChangesBatch(db, { since: plain(0) }, user);
      const ids = batch.results.map((e) => e.id);
      expect(ids.length).toBe(new Set(ids).size);
      // The update is in this batch or, when it came after the batch's committed bound, in the next one.
      const next = await readChangesBatch(db, { since: batch.last }, user);
      const all = [...batch.results, ...next.results].filter((e) => e.id === 'doc-000');
      expect(all.map((e) => e.changes[0]!.rev)).toEqual(['2-b']);
      expect(new Set([...ids, ...next.results.map((e) => e.id)]).size).toBe(600);
    }
  });
});
