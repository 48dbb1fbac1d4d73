import { describe, expect, it } from 'vitest';
import { loadUserAccess } from '../src/db/access/user-access.ts';
import { splitIncoming } from '../src/db/crud/incoming.ts';
import { writeDocument, writeDocuments, type BulkResult } from '../src/db/crud/write.ts';
import type { WriteOptions } from '../src/db/crud/prepare.ts';
import type { Database } from '../src/db/database.ts';
import { parseMeta, type SyncMeta } from '../src/db/doc-meta.ts';
import { memoryDatabase } from './support/memory-db.ts';

const put = (db: Database, raw: Record<string, unknown>, opts: Partial<WriteOptions> = {}) =>
  writeDocument(db, splitIncoming(raw), { newEdits: true, ...opts });
const replicate = (db: Database, id: string, revs: string[], body: Record<string, unknown> = {}, deleted = false) => {
  const [start, ids] = [Number(revs[0]!.split('-')[0]), revs.map((r) => r.split('-')[1])];
  return put(db, { _id: id, _rev: revs[0], _revisions: { start, ids }, ...(deleted ? { _deleted: true } : {}), ...body }, { newEdits: false });
};
const metaOf = async (db: Database, id: string): Promise<SyncMeta> => parseMeta((await db.collection.get(id))!.meta!);
const feed = async (db: Database, channels: string[]) =>
  (await db.collection.readChanges({ since: 0, channels })).map((c) => ({ id: c.id, rev: c.rev, channels: c.channels, removed: c.removed, deleted: c.deleted }));

const GRANTING = `function (doc, oldDoc) {
  channel(doc.channels);
  if (doc.owner && doc.grant) access(doc.owner, doc.grant);
  if (doc.owner && doc.role) role(doc.owner, 'role:' + doc.role);
  if (doc.team) access('role:' + doc.team, doc.teamChannel);
}`;

describe('the sync function on document writes', () => {
  it('stores the channels of the winning revision and indexes them in the changes log', async () => {
    await using db = await memoryDatabase();
    const { rev } = await put(db, { _id: 'a', channels: ['x', 'y'] });
    await put(db, { _id: 'b', channels: 'z' });
    const meta = await metaOf(db, 'a');
    expect(meta.channels.sort()).toEqual(['x', 'y']);
    expect(meta.removed).toBeUndefined();
    expect(await feed(db, ['x'])).toEqual([{ id: 'a', rev, channels: ['x', 'y'], removed: [], deleted: false }]);
    expect((await feed(db, ['z'])).map((c) => c.id)).toEqual(['b']);
    expect(await feed(db, ['nope'])).toEqual([]);
  });

  it('records the sequence at which a document left a channel and keeps reporting it on later revisions', async () => {
    await using db = await memoryDatabase();
    const r1 = await put(db, { _id: 'a', channels: ['x', 'y'] });
    const r2 = await put(db, { _id: 'a', _rev: r1.rev, channels: ['y'] });
    const seq2 = (await metaOf(db, 'a')).seq;
    expect((await metaOf(db, 'a')).removed).toEqual({ x: seq2 });
    expect(await feed(db, ['x'])).toEqual([{ id: 'a', rev: r2.rev, channels: ['y'], removed: ['x'], deleted: false }]);

    const r3 = await put(db, { _id: 'a', _rev: r2.rev, channels: ['y'], n: 3 });
    const meta3 = await metaOf(db, 'a');
    expect(meta3.seq).toBeGreaterThan(seq2);
    expect(meta3.removed).toEqual({ x: seq2 });
    expect(await feed(db, ['x'])).toEqual([{ id: 'a', rev: r3.rev, channels: ['y'], removed: ['x'], deleted: false }]);

    await put(db, { _id: 'a', _rev: r3.rev, channels: ['x'] });
    const meta4 = await metaOf(db, 'a');
    expect(meta4.channels).toEqual(['x']);
    expect(meta4.removed).toEqual({ y: meta4.seq });
  });

  it('passes a deletion with _deleted and takes the tombstone out of its channels', async () => {
    await using db = await memoryDatabase({
      sync: `function (doc, oldDoc) { if (doc._deleted) { channel('deleted-' + oldDoc.channels); return; } channel(doc.channels); }`,
    });
    const created = await put(db, { _id: 'a', channels: 'x' });
    const deleted = await put(db, { _id: 'a', _rev: created.rev, _deleted: true });
    const meta = await metaOf(db, 'a');
    expect(meta.deleted).toBe(true);
    expect(meta.channels).toEqual(['deleted-x']);
    expect(meta.removed).toEqual({ x: meta.seq });
    expect(await feed(db, ['x'])).toEqual([{ id: 'a', rev: deleted.rev, channels: ['deleted-x'], removed: ['x'], deleted: true }]);
  });

  it('leaves the channels of a tombstone that the default function assigns nothing', async () => {
    await using db = await memoryDatabase();
    const created = await put(db, { _id: 'a', channels: ['x', 'y'] });
    await put(db, { _id: 'a', _rev: created.rev, _deleted: true });
    const meta = await metaOf(db, 'a');
    expect(meta.channels).toEqual([]);
    expect(Object.keys(meta.removed ?? {}).sort()).toEqual(['x', 'y']);
    const changes = await feed(db, ['y']);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ deleted: true, channels: [] });
  });

  it('gives oldDoc the revision being replaced, and a deleted one to a recreation', async () => {
    await using db = await memoryDatabase({
      sync: `function (doc, oldDoc) {
        channel(oldDoc === null ? 'old-none' : oldDoc._deleted ? 'old-deleted-' + oldDoc._rev : 'old-' + oldDoc._rev + '-' + oldDoc.v);
        if (doc._id !== 'a' || typeof doc._rev !== 'string') throw({forbidden: 'no _id or _rev'});
      }`,
    });
    const r1 = await put(db, { _id: 'a', v: 1 });
    expect((await metaOf(db, 'a')).channels).toEqual(['old-none']);
    const r2 = await put(db, { _id: 'a', _rev: r1.rev, v: 2 });
    expect((await metaOf(db, 'a')).channels).toEqual([`old-${r1.rev}-1`]);
    const r3 = await put(db, { _id: 'a', _rev: r2.rev, _deleted: true });
    await put(db, { _id: 'a', v: 4 });
    expect((await metaOf(db, 'a')).channels).toEqual([`old-deleted-${r3.rev}`]);
  });

  it('gives a replicated revision its nearest kept ancestor as oldDoc, not an unrelated winner', async () => {
    await using db = await memoryDatabase({ sync: `function (doc, oldDoc) { channel(oldDoc === null ? 'old-none' : 'old-' + oldDoc._rev); }` });
    await replicate(db, 'r', ['1-aaa']);
    await replicate(db, 'r', ['2-bbb', '1-aaa']);
    expect((await metaOf(db, 'r')).channels).toEqual(['old-1-aaa']);
    // 1-aaa is no longer a leaf, so its body is gone: the conflicting branch has no ancestor to compare with.
    await replicate(db, 'r', ['2-aab', '1-aaa']);
    expect((await metaOf(db, 'r')).leafChannels).toEqual({ '2-aab': ['old-none'] });
    // Extending the conflict sees the conflict, not the winner.
    await replicate(db, 'r', ['3-ccc', '2-aab', '1-aaa']);
    expect((await metaOf(db, 'r')).channels).toEqual(['old-2-aab']);
  });

  it('shows attachments to the sync function as stubs', async () => {
    await using db = await memoryDatabase({ sync: `function (doc) { for (var name in doc._attachments) channel(name + '-' + doc._attachments[name].stub); }` });
    await put(db, { _id: 'a', _attachments: { pic: { content_type: 'text/plain', data: Buffer.from('hi').toString('base64') } } });
    expect((await metaOf(db, 'a')).channels).toEqual(['pic-true']);
  });

  it('keeps channels of conflicting leaves and takes the next winner`s when the winning branch is deleted', async () => {
    await using db = await memoryDatabase();
    await replicate(db, 'c', ['1-aaa'], { channels: 'root' });
    await replicate(db, 'c', ['2-bbb', '1-aaa'], { channels: 'b' });
    await replicate(db, 'c', ['2-ccc', '1-aaa'], { channels: 'c' });
    let meta = await metaOf(db, 'c');
    expect(meta.rev).toBe('2-ccc');
    expect(meta.channels).toEqual(['c']);
    expect(meta.leafChannels).toEqual({ '2-bbb': ['b'] });
    // 2-bbb was the winner until 2-ccc arrived: the document left b then.
    expect(Object.keys(meta.removed ?? {}).sort()).toEqual(['b', 'root']);

    // A losing revision (a lower generation) changes its own leaf channels, not the document's.
    await replicate(db, 'c', ['1-000'], { channels: 'zero' });
    meta = await metaOf(db, 'c');
    expect(meta.rev).toBe('2-ccc');
    expect(meta.channels).toEqual(['c']);
    expect(meta.leafChannels).toEqual({ '2-bbb': ['b'], '1-000': ['zero'] });

    const del = await put(db, { _id: 'c', _rev: '2-ccc', _deleted: true });
    meta = await metaOf(db, 'c');
    expect(meta.rev).toBe('2-bbb');
    expect(meta.channels).toEqual(['b']);
    expect(meta.leafChannels).toEqual({ '1-000': ['zero'], [del.rev]: [] });
    expect(meta.removed).toMatchObject({ c: meta.seq });
    expect(meta.removed?.b).toBeUndefined();
  });

  it('writes the winner`s grants, leaves them for a losing revision and revokes them when withdrawn', async () => {
    await using db = await memoryDatabase({ sync: GRANTING });
    const r1 = await put(db, { _id: 'g', owner: 'alice', grant: ['x', 'y'], role: 'editor', team: 'staff', teamChannel: 't' });
    const seq1 = (await metaOf(db, 'g')).seq;
    const grants = await db.collection.readGrants(['alice', 'role:staff']);
    expect(grants.map((g) => [g.grantee, g.kind, g.item, g.seq, g.revokedSeq, g.docId])).toEqual([
      ['alice', 'channel', 'x', seq1, null, 'g'],
      ['alice', 'channel', 'y', seq1, null, 'g'],
      ['alice', 'role', 'editor', seq1, null, 'g'],
      ['role:staff', 'channel', 't', seq1, null, 'g'],
    ]);
    const meta = await metaOf(db, 'g');
    expect(meta.access).toEqual({ alice: ['x', 'y'], 'role:staff': ['t'] });
    expect(meta.roles).toEqual({ alice: ['editor'] });

    // A conflicting revision that loses does not touch the grants.
    await replicate(db, 'g', ['1-000'], { owner: 'alice', grant: 'z' });
    expect((await db.collection.readGrants(['alice'])).map((g) => g.item)).toEqual(['x', 'y', 'editor']);

    const r2 = await put(db, { _id: 'g', _rev: r1.rev, owner: 'alice', grant: 'x' });
    const seq2 = (await metaOf(db, 'g')).seq;
    const after = await db.collection.readGrants(['alice']);
    expect(after.map((g) => [g.item, g.seq, g.revokedSeq])).toEqual([
      ['x', seq1, null],
      ['y', seq1, seq2],
      ['editor', seq1, seq2],
    ]);

    await put(db, { _id: 'g', _rev: r2.rev, _deleted: true });
    // The tombstone wins over the other branch? No: the live conflict 1-000 wins, and its grant takes over.
    const final = await metaOf(db, 'g');
    expect(final.rev).toBe('1-000');
    expect(final.access).toEqual({ alice: ['z'] });
    const standing = (await db.collection.readGrants(['alice'])).filter((g) => g.revokedSeq === null);
    expect(standing.map((g) => g.item)).toEqual(['z']);
  });

  it('revokes every grant when the document is deleted', async () => {
    await using db = await memoryDatabase({ sync: GRANTING });
    const r1 = await put(db, { _id: 'g', owner: 'alice', grant: 'x' });
    await put(db, { _id: 'g', _rev: r1.rev, _deleted: true });
    const [grant] = await db.collection.readGrants(['alice']);
    expect(grant!.revokedSeq).toBe((await metaOf(db, 'g')).seq);
    expect((await metaOf(db, 'g')).access).toBeUndefined();
  });

  it('refuses a write the function rejects with 403 and its reason, in a batch per document', async () => {
    await using db = await memoryDatabase({ sync: `function (doc) { if (doc.bad) throw({forbidden: 'x'}); channel(doc.channels); }` });
    await expect(put(db, { _id: 'a', bad: true })).rejects.toMatchObject({ status: 403, error: 'forbidden', reason: 'x' });
    expect(await db.collection.get('a')).toBeNull();
    const results: BulkResult[] = await writeDocuments(db, [splitIncoming({ _id: 'ok', channels: 'c' }), splitIncoming({ _id: 'no', bad: 1 })], { newEdits: true });
    expect(results[0]).toMatchObject({ id: 'ok' });
    expect(results[1]).toMatchObject({ id: 'no', error: { status: 403, error: 'forbidden', reason: 'x' } });
    await expect(replicate(db, 'r', ['1-abc'], { bad: true })).rejects.toMatchObject({ status: 403, reason: 'x' });
  });

  it('runs require* checks against the writing user and lets the admin through', async () => {
    await using db = await memoryDatabase({
      sync: `function (doc, oldDoc) { requireUser(doc.owner); requireAccess(doc.channels); requireRole('editor'); channel(doc.channels); }`,
      allow_empty_password: true,
    });
    await db.auth.putUser('bob', { password: '', admin_channels: ['x'] });
    const bob = await loadUserAccess(db, 'bob');
    await expect(put(db, { _id: 'a', owner: 'alice', channels: 'x' }, { user: bob })).rejects.toMatchObject({ status: 403 });
    await expect(put(db, { _id: 'a', owner: 'bob', channels: 'x' }, { user: bob })).rejects.toMatchObject({ status: 403 });
    await expect(put(db, { _id: 'a', owner: 'alice', channels: 'x' })).resolves.toMatchObject({ id: 'a' });
    await expect(put(db, { _id: 'b', owner: 'alice', channels: 'x' }, { user: null })).resolves.toMatchObject({ id: 'b' });
  });

  it('answers 500 when the function runs out of time and keeps serving the next write', async () => {
    await using db = await memoryDatabase({
      sync: `function (doc) { if (doc.loop) { while (true) {} } channel(doc.channels); }`,
      javascript_timeout_secs: 0.2,
    });
    await expect(put(db, { _id: 'slow', loop: true })).rejects.toMatchObject({ status: 500, reason: expect.stringMatching(/timed out/) });
    await expect(put(db, { _id: 'fast', channels: 'c' })).resolves.toMatchObject({ id: 'fast' });
    expect((await metaOf(db, 'fast')).channels).toEqual(['c']);
  });

  it('reads metadata written before channel history existed', () => {
    const meta = parseMeta(JSON.stringify({ rev: '1-a', seq: 1, tree: {}, attachments: {}, bodies: {}, deleted: false, timeSaved: '' }));
    expect(meta.channels).toEqual([]);
    expect(meta.removed).toBeUndefined();
    expect(meta.leafChannels).toBeUndefined();
  });
});
