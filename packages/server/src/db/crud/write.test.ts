import { describe, expect, it } from 'vitest';
import { memoryDatabase } from '../../../test/support/memory-db.ts';
import { splitIncoming } from './incoming.ts';
import { loadCurrent, requireRevision, formatRevision } from './read.ts';
import { writeDocument, writeDocuments } from './write.ts';
import type { Database } from '../database.ts';

const put = (db: Database, raw: Record<string, unknown>, newEdits = true) => writeDocument(db, splitIncoming(raw), { newEdits });
const read = async (db: Database, id: string, rev?: string) => {
  const current = await loadCurrent(db, id);
  const found = requireRevision(current, rev);
  return (await formatRevision(db, current, found.rev, found.content, { conflicts: true, revs: true })).doc;
};
const replicate = (db: Database, id: string, revs: string[], body: Record<string, unknown> = {}, deleted = false) => {
  const [start, ids] = [Number(revs[0]!.split('-')[0]), revs.map((r) => r.split('-')[1])];
  return put(db, { _id: id, _rev: revs[0], _revisions: { start, ids }, ...(deleted ? { _deleted: true } : {}), ...body }, false);
};

describe('writing documents', () => {
  it('creates, updates and refuses a stale update with 409', async () => {
    await using db = await memoryDatabase();
    const first = await put(db, { _id: 'a', v: 1 });
    const second = await put(db, { _id: 'a', _rev: first.rev, v: 2 });
    expect(second.rev.startsWith('2-')).toBe(true);
    await expect(put(db, { _id: 'a', _rev: first.rev, v: 3 })).rejects.toMatchObject({ status: 409 });
    await expect(put(db, { _id: 'a', v: 3 })).rejects.toMatchObject({ status: 409 });
    expect(await read(db, 'a')).toMatchObject({ _rev: second.rev, v: 2 });
  });

  it('gives the same revision ID to the same edit made in two databases', async () => {
    await using a = await memoryDatabase();
    await using b = await memoryDatabase();
    const ra = await put(a, { _id: 'x', n: 1, nested: { k: [1, 2] } });
    const rb = await put(b, { nested: { k: [1, 2] }, n: 1, _id: 'x' });
    expect(ra.rev).toBe(rb.rev);
  });

  it('keeps the conflicting branch body and moves it into the documents table when the winner is deleted', async () => {
    await using db = await memoryDatabase();
    await replicate(db, 'c', ['1-aaa'], { side: 'root' });
    await replicate(db, 'c', ['2-bbb', '1-aaa'], { side: 'b' });
    await replicate(db, 'c', ['2-ccc', '1-aaa'], { side: 'c' });
    const winner = await read(db, 'c');
    expect(winner).toMatchObject({ _rev: '2-ccc', side: 'c', _conflicts: ['2-bbb'] });
    expect(await read(db, 'c', '2-bbb')).toMatchObject({ side: 'b' });
    const del = await put(db, { _id: 'c', _rev: '2-ccc', _deleted: true });
    expect(del.rev.startsWith('3-')).toBe(true);
    expect(await read(db, 'c')).toMatchObject({ _rev: '2-bbb', side: 'b' });
    const stored = await db.collection.get('c');
    expect(JSON.parse(stored!.body!)).toEqual({ side: 'b' });
  });

  it('deletes to a tombstone, hides it from reads and recreates on top of it', async () => {
    await using db = await memoryDatabase();
    const created = await put(db, { _id: 'd', v: 1 });
    const deleted = await put(db, { _id: 'd', _rev: created.rev, _deleted: true });
    await expect(read(db, 'd')).rejects.toMatchObject({ status: 404, reason: 'deleted' });
    expect((await db.collection.get('d'))!.body).toBeNull();
    const again = await put(db, { _id: 'd', v: 2 });
    expect(again.rev.startsWith('3-')).toBe(true);
    expect(await read(db, 'd')).toMatchObject({ v: 2, _revisions: { start: 3 } });
    expect(deleted.rev.startsWith('2-')).toBe(true);
  });

  it('ignores a replicated revision it already has', async () => {
    await using db = await memoryDatabase();
    await replicate(db, 'r', ['1-aaa'], { v: 1 });
    const seq = await db.bucket.lastSequence();
    await replicate(db, 'r', ['1-aaa'], { v: 'different' });
    expect(await db.bucket.lastSequence()).toBe(seq);
    expect(await read(db, 'r')).toMatchObject({ v: 1 });
  });

  it('prunes revision history to revs_limit', async () => {
    await using db = await memoryDatabase({ revs_limit: 20 });
    let rev = (await put(db, { _id: 'p', n: 0 })).rev;
    for (let n = 1; n < 30; n++) rev = (await put(db, { _id: 'p', _rev: rev, n })).rev;
    const doc = await read(db, 'p');
    expect((doc._revisions as { start: number; ids: string[] }).ids).toHaveLength(20);
    expect((doc._revisions as { start: number }).start).toBe(30);
  });

  it('writes a batch in one go, reporting per-document errors and repeated ids in order', async () => {
    await using db = await memoryDatabase();
    const existing = await put(db, { _id: 'b1', v: 0 });
    const results = await writeDocuments(
      db,
      [splitIncoming({ _id: 'b1', v: 1 }), splitIncoming({ _id: 'b2', v: 1 }), splitIncoming({ _id: 'b2', v: 2 }), splitIncoming({ _id: 'b1', _rev: existing.rev, v: 2 })],
      { newEdits: true },
    );
    expect('error' in results[0]! && results[0].error.status).toBe(409);
    expect('rev' in results[1]!).toBe(true);
    expect('error' in results[2]! && results[2].error.status).toBe(409);
    expect('rev' in results[3]! && results[3].rev.startsWith('2-')).toBe(true);
  });

  it('keeps attachments through stubs and gives changed ones the new revpos', async () => {
    await using db = await memoryDatabase();
    const data = Buffer.from('hello').toString('base64');
    const first = await put(db, { _id: 'att', _attachments: { 'a.txt': { content_type: 'text/plain', data } } });
    const second = await put(db, { _id: 'att', _rev: first.rev, x: 1, _attachments: { 'a.txt': { stub: true } } });
    const third = await put(db, {
      _id: 'att',
      _rev: second.rev,
      _attachments: { 'a.txt': { stub: true }, 'b.txt': { content_type: 'text/plain', data: Buffer.from('bye').toString('base64') } },
    });
    const doc = await read(db, 'att', third.rev);
    expect(doc._attachments).toMatchObject({ 'a.txt': { revpos: 1, length: 5, stub: true }, 'b.txt': { revpos: 3, length: 3 } });
    await expect(put(db, { _id: 'att', _rev: third.rev, _attachments: { 'zzz': { stub: true } } })).rejects.toMatchObject({ status: 400 });
  });
});

describe('revision IDs and attachments', () => {
  it('gives a different revision ID when only an attachment changes', async () => {
    await using a = await memoryDatabase();
    const one = await put(a, { _id: 'x', v: 1, _attachments: { f: { content_type: 'text/plain', data: Buffer.from('one').toString('base64') } } });
    await using b = await memoryDatabase();
    const two = await put(b, { _id: 'x', v: 1, _attachments: { f: { content_type: 'text/plain', data: Buffer.from('two').toString('base64') } } });
    expect(one.rev).not.toBe(two.rev);
    const updated = await put(a, { _id: 'x', _rev: one.rev, v: 1, _attachments: { f: { content_type: 'text/plain', data: Buffer.from('two').toString('base64') } } });
    expect(updated.rev.startsWith('2-')).toBe(true);
  });
});
