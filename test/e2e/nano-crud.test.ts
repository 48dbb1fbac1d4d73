import { randomBytes } from 'node:crypto';
import nano from 'nano';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server-process.ts';

interface Item {
  kind: string;
  n: number;
}

interface NanoError {
  statusCode: number;
  error: string;
  reason: string;
}

describe('CRUD through nano, the CouchDB client', () => {
  let server: TestServer;
  let db: nano.DocumentScope<Item>;

  beforeAll(async () => {
    server = await startTestServer();
    db = nano(server.url).use<Item>('db');
  });

  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
  });

  it('inserts, reads, updates with the current rev and refuses a stale rev with a 409 conflict', async () => {
    const created = await db.insert({ kind: 'widget', n: 1 }, 'crud-1');
    expect(created).toMatchObject({ ok: true, id: 'crud-1' });
    expect(created.rev.startsWith('1-')).toBe(true);

    const read = await db.get('crud-1');
    expect(read).toEqual({ _id: 'crud-1', _rev: created.rev, kind: 'widget', n: 1 });

    const updated = await db.insert({ ...read, n: 2 });
    expect(updated.rev.startsWith('2-')).toBe(true);
    expect(await db.get('crud-1')).toMatchObject({ _rev: updated.rev, n: 2 });

    const stale = await db.insert({ _id: 'crud-1', _rev: created.rev, kind: 'widget', n: 3 }).catch((err: NanoError) => err);
    expect(stale).toMatchObject({ statusCode: 409, error: 'conflict' });

    const withoutRev = await db.insert({ kind: 'widget', n: 4 }, 'crud-1').catch((err: NanoError) => err);
    expect(withoutRev).toMatchObject({ statusCode: 409, error: 'conflict' });

    const withGeneratedId = await db.insert({ kind: 'generated', n: 0 });
    expect(withGeneratedId.id).toMatch(/^[0-9a-f]{32}$/);
    expect(await db.get(withGeneratedId.id)).toMatchObject({ kind: 'generated' });
  });

  it('destroys a document, after which reads give 404 with reason "deleted"', async () => {
    const created = await db.insert({ kind: 'doomed', n: 1 }, 'crud-doomed');
    const staleDestroy = await db.destroy('crud-doomed', '1-00000000000000000000000000000000').catch((err: NanoError) => err);
    expect(staleDestroy).toMatchObject({ statusCode: 409, error: 'conflict' });

    const destroyed = await db.destroy('crud-doomed', created.rev);
    expect(destroyed).toMatchObject({ ok: true, id: 'crud-doomed' });
    expect(destroyed.rev.startsWith('2-')).toBe(true);

    const gone = await db.get('crud-doomed').catch((err: NanoError) => err);
    expect(gone).toMatchObject({ statusCode: 404, error: 'not_found', reason: 'deleted' });
    const never = await db.get('crud-never-existed').catch((err: NanoError) => err);
    expect(never).toMatchObject({ statusCode: 404, error: 'not_found', reason: 'missing' });

    const recreated = await db.insert({ kind: 'reborn', n: 2 }, 'crud-doomed');
    expect(recreated.rev.startsWith('3-')).toBe(true);
    expect(await db.get('crud-doomed')).toMatchObject({ kind: 'reborn' });
  });

  it('writes with bulk, lists with include_docs and fetches many by key', async () => {
    const docs = Array.from({ length: 5 }, (_, i) => ({ _id: `list-${i}`, kind: 'listed', n: i }));
    const written = await db.bulk({ docs });
    expect(written).toHaveLength(5);
    expect(written.every((r) => r.rev !== undefined && r.error === undefined)).toBe(true);

    const listed = await db.list({ include_docs: true, startkey: 'list-', endkey: 'list-\uffff' });
    expect(listed.rows.map((r) => r.id)).toEqual(docs.map((d) => d._id));
    expect(listed.rows.map((r) => r.doc)).toEqual(docs.map((d, i) => ({ ...d, _rev: written[i]!.rev })));
    for (const row of listed.rows) expect(row.value.rev).toBe(row.doc!._rev);

    const limited = await db.list({ startkey: 'list-', limit: 2, skip: 1 });
    expect(limited.rows.map((r) => r.id)).toEqual(['list-1', 'list-2']);

    const fetched = await db.fetch({ keys: ['list-3', 'list-missing', 'list-0'] });
    expect(fetched.rows).toHaveLength(3);
    expect(fetched.rows[0]).toMatchObject({ id: 'list-3', doc: { n: 3 } });
    expect(fetched.rows[1]).toMatchObject({ key: 'list-missing', error: 'not_found' });
    expect(fetched.rows[2]).toMatchObject({ id: 'list-0', doc: { n: 0 } });

    const conflicting = await db.bulk({ docs: [{ _id: 'list-0', kind: 'listed', n: 99 }, { _id: 'list-new', kind: 'listed', n: 5 }] });
    expect(conflicting[0]).toMatchObject({ id: 'list-0', error: 'conflict' });
    expect(conflicting[1]).toMatchObject({ id: 'list-new' });
    expect(conflicting[1]!.rev).toBeDefined();

    const updates = await db.bulk({ docs: listed.rows.map((r) => ({ ...r.doc!, n: r.doc!.n + 100 })) });
    expect(updates.every((r) => r.rev?.startsWith('2-'))).toBe(true);
    expect(await db.get('list-4')).toMatchObject({ n: 104 });
  });

  it('stores and reads back attachments, binary and text', async () => {
    const bytes = randomBytes(50_000);
    const doc = await db.insert({ kind: 'with-attachment', n: 1 }, 'crud-att');
    const attached = await db.attachment.insert('crud-att', 'blob.bin', bytes, 'application/octet-stream', { rev: doc.rev });
    expect(attached).toMatchObject({ ok: true, id: 'crud-att' });
    expect(attached.rev.startsWith('2-')).toBe(true);

    const back = await db.attachment.get('crud-att', 'blob.bin');
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back.equals(bytes)).toBe(true);

    const text = Buffer.from('hello from nano\n');
    const second = await db.attachment.insert('crud-att', 'hello.txt', text, 'text/plain', { rev: attached.rev });
    const withStubs = await db.get('crud-att');
    expect(withStubs._rev).toBe(second.rev);
    expect(withStubs._attachments).toMatchObject({
      'blob.bin': { stub: true, length: bytes.length, content_type: 'application/octet-stream', revpos: 2 },
      'hello.txt': { stub: true, length: text.length, content_type: 'text/plain', revpos: 3 },
    });
    expect(Buffer.from(await db.attachment.get('crud-att', 'hello.txt')).equals(text)).toBe(true);

    const removed = await db.attachment.destroy('crud-att', 'blob.bin', { rev: second.rev });
    expect(removed.rev.startsWith('4-')).toBe(true);
    const missing = await db.attachment.get('crud-att', 'blob.bin').catch((err: NanoError) => err);
    expect(missing).toMatchObject({ statusCode: 404 });
    expect(Object.keys((await db.get('crud-att'))._attachments ?? {})).toEqual(['hello.txt']);
  });

  it('inserts a document with attachments as multipart/related and reads it back as multipart', async () => {
    const created = await db.multipart.insert({ kind: 'multipart', n: 1 }, [
      { name: 'a.txt', data: 'first attachment', content_type: 'text/plain' },
      { name: 'b.json', data: '{"second":true}', content_type: 'application/json' },
    ], 'crud-multipart');
    expect(created).toMatchObject({ ok: true, id: 'crud-multipart' });

    const doc = await db.get('crud-multipart');
    expect(doc._attachments).toMatchObject({
      'a.txt': { stub: true, length: 16, content_type: 'text/plain' },
      'b.json': { stub: true, length: 15, content_type: 'application/json' },
    });
    expect(Buffer.from(await db.attachment.get('crud-multipart', 'b.json')).toString()).toBe('{"second":true}');

    const related = String(await db.multipart.get('crud-multipart'));
    expect(related).toContain('"kind":"multipart"');
    expect(related).toContain('first attachment');
    expect(related).toContain('{"second":true}');

    const head = (await db.head('crud-multipart')) as unknown as Record<string, string>;
    expect(head.etag).toBe(`"${created.rev}"`);
  });

  it('reads the changes feed and the database info', async () => {
    const before = await db.info();
    expect(before.db_name).toBe('db');
    const first = await db.insert({ kind: 'change', n: 1 }, 'feed-1');
    await db.insert({ kind: 'change', n: 2 }, 'feed-2');
    const removed = await db.destroy('feed-1', first.rev);

    const changes = await db.changes({ since: before.update_seq });
    expect(changes.results.map((c) => c.id)).toEqual(['feed-2', 'feed-1']);
    expect(changes.results[1]).toMatchObject({ id: 'feed-1', deleted: true, changes: [{ rev: removed.rev }] });
    const withDocs = await db.changes({ since: before.update_seq, include_docs: true, limit: 1 });
    expect(withDocs.results).toHaveLength(1);
    expect((withDocs.results[0] as { doc?: unknown }).doc).toMatchObject({ _id: 'feed-2', n: 2 });

    const after = await db.info();
    expect(Number(after.update_seq)).toBe(Number(before.update_seq) + 3);
    expect(Number(changes.last_seq)).toBe(Number(after.update_seq));
    expect(after.doc_count).toBe(before.doc_count + 1);
  });
});
