import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryPouch, remotePouch } from '../support/pouch.ts';
import { eventually, getJson, postJson, putJson, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

type Doc = PouchDB.Core.ExistingDocument<Record<string, unknown>>;

const pad = (n: number) => String(n).padStart(4, '0');

/** id → winning rev of every live document. */
async function liveRevs(db: PouchDB.Database): Promise<Map<string, string>> {
  const { rows } = await db.allDocs();
  return new Map(rows.map((r) => [r.id, r.value.rev]));
}

async function serverAllDocs(server: TestServer, prefix: string): Promise<Map<string, string>> {
  const res = await getJson<{ rows: Array<{ id: string; value: { rev: string } }> }>(
    `${server.url}/db/_all_docs?startkey=${encodeURIComponent(JSON.stringify(prefix))}&endkey=${encodeURIComponent(JSON.stringify(`${prefix}\uffff`))}`,
  );
  expect(res.status).toBe(200);
  return new Map(res.body.rows.map((r) => [r.id, r.value.rev]));
}

interface ChangeRow {
  id: string;
  seq: number;
  changes: Array<{ rev: string }>;
  deleted?: boolean;
}

async function serverChanges(server: TestServer, ids?: string[]): Promise<ChangeRow[]> {
  const res = ids
    ? await postJson<{ results: ChangeRow[] }>(`${server.url}/db/_changes?filter=_doc_ids`, { doc_ids: ids })
    : await getJson<{ results: ChangeRow[] }>(`${server.url}/db/_changes`);
  expect(res.status).toBe(200);
  return res.body.results;
}

async function fetchBytes(url: string): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
}

async function attachmentBytes(db: PouchDB.Database, id: string, name: string): Promise<Buffer> {
  return (await db.getAttachment(id, name)) as Buffer;
}

describe('PouchDB replication with a real server', () => {
  let server: TestServer;
  let remoteUrl: string;

  beforeAll(async () => {
    server = await startTestServer();
    remoteUrl = `${server.url}/db`;
  });

  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
  });

  it('pushes 1,000 documents with later updates and deletions, and a fresh pull reproduces them exactly', async () => {
    const source = memoryPouch('push-source');
    const remote = remotePouch(remoteUrl);
    const ids = Array.from({ length: 1000 }, (_, i) => `bulk-${pad(i)}`);
    await source.bulkDocs(ids.map((id, n) => ({ _id: id, n, text: `document ${n}`, tags: [n % 7, n % 11] })));

    const first = await source.replicate.to(remote);
    expect(first.ok).toBe(true);
    expect(first.docs_written).toBe(1000);
    expect(first.doc_write_failures).toBe(0);

    const initial = await source.allDocs({ include_docs: true });
    const updated = initial.rows.slice(0, 300).map((r) => ({ ...(r.doc as Doc), n: (r.doc as Doc & { n: number }).n + 10_000, updated: true }));
    const updateResults = await source.bulkDocs(updated);
    expect(updateResults.every((r) => 'ok' in r && r.ok)).toBe(true);
    const afterUpdate = await liveRevs(source);
    const deletedIds = ids.slice(250, 350);
    const deletion = await source.bulkDocs(deletedIds.map((id) => ({ _id: id, _rev: afterUpdate.get(id)!, _deleted: true })));
    expect(deletion.every((r) => 'ok' in r && r.ok)).toBe(true);

    const second = await source.replicate.to(remote);
    expect(second.ok).toBe(true);
    expect(second.docs_written).toBe(350);
    expect(second.doc_write_failures).toBe(0);

    const copy = memoryPouch('pull-copy');
    const pulled = await copy.replicate.from(remote, { doc_ids: ids });
    expect(pulled.ok).toBe(true);

    const expected = await liveRevs(source);
    expect(expected.size).toBe(900);
    expect(await liveRevs(copy)).toEqual(expected);

    const sourceDocs = await source.allDocs({ include_docs: true });
    const copyDocs = await copy.allDocs({ include_docs: true });
    expect(copyDocs.rows.map((r) => r.doc)).toEqual(sourceDocs.rows.map((r) => r.doc));
    for (const row of copyDocs.rows) expect(row.doc!._rev).toBe(row.value.rev);

    for (const id of [ids[0]!, ids[249]!, ids[500]!]) {
      const a = await source.get(id, { revs: true });
      const b = await copy.get(id, { revs: true });
      expect(b._revisions).toEqual(a._revisions);
    }

    const deletedInSource = await source.allDocs({ keys: deletedIds });
    const deletedInCopy = await copy.allDocs({ keys: deletedIds });
    expect(deletedInCopy.rows).toEqual(deletedInSource.rows);
    for (const row of deletedInCopy.rows) expect(row).toMatchObject({ value: { deleted: true } });
    await expect(copy.get(deletedIds[0]!)).rejects.toMatchObject({ status: 404, reason: 'deleted' });

    expect(await serverAllDocs(server, 'bulk-')).toEqual(expected);

    const changes = await serverChanges(server, ids);
    expect(changes).toHaveLength(1000);
    const tombstones = new Map(deletedInSource.rows.map((r) => [r.key, (r as { value: { rev: string } }).value.rev]));
    for (const change of changes) {
      const rev = change.deleted ? tombstones.get(change.id) : expected.get(change.id);
      expect(change.changes).toEqual([{ rev }]);
    }
    expect(changes.filter((c) => c.deleted).map((c) => c.id).sort()).toEqual(deletedIds);
    const seqs = changes.map((c) => c.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });

  it('pulls server-written documents and a second pull transfers only the newer changes', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `srv-${pad(i)}`);
    const created = await postJson<Array<{ id: string; rev: string }>>(`${remoteUrl}/_bulk_docs`, {
      docs: ids.map((id, i) => ({ _id: id, value: i })),
    });
    expect(created.status).toBe(201);
    const revs = new Map(created.body.map((r) => [r.id, r.rev]));

    const local = memoryPouch('server-data');
    const remote = remotePouch(remoteUrl);
    const first = await local.replicate.from(remote, { doc_ids: ids });
    expect(first.ok).toBe(true);
    expect(first.docs_read).toBe(200);
    expect(await liveRevs(local)).toEqual(revs);
    expect(await local.get('srv-0042')).toMatchObject({ _id: 'srv-0042', _rev: revs.get('srv-0042'), value: 42 });

    const edits = [
      ...ids.slice(0, 30).map((id) => ({ _id: id, _rev: revs.get(id), value: -1 })),
      ...ids.slice(30, 35).map((id) => ({ _id: id, _rev: revs.get(id), _deleted: true })),
    ];
    const edited = await postJson<Array<{ id: string; rev: string }>>(`${remoteUrl}/_bulk_docs`, { docs: edits });
    expect(edited.body.every((r) => typeof r.rev === 'string')).toBe(true);
    const added = ['srv-new-1', 'srv-new-2', 'srv-new-3'];
    await postJson(`${remoteUrl}/_bulk_docs`, { docs: added.map((id) => ({ _id: id, value: 'new' })) });

    const second = await local.replicate.from(remote, { doc_ids: [...ids, ...added] });
    expect(second.ok).toBe(true);
    expect(second.docs_read).toBe(38);
    expect(second.docs_written).toBe(38);

    expect(await liveRevs(local)).toEqual(await serverAllDocs(server, 'srv-'));
    expect(await local.get('srv-0000')).toMatchObject({ value: -1 });
    await expect(local.get('srv-0031')).rejects.toMatchObject({ status: 404 });
    expect(await local.get('srv-new-2')).toMatchObject({ value: 'new' });

    const third = await local.replicate.from(remote, { doc_ids: [...ids, ...added] });
    expect(third.docs_read).toBe(0);
  });

  it('keeps a live two-way sync running: server writes reach PouchDB and local writes reach the server', async () => {
    const local = memoryPouch('live');
    const remote = remotePouch(remoteUrl);
    const sync = local.sync(remote, { live: true, retry: true, doc_ids: ['live-from-server', 'live-from-local'] });
    const errors: unknown[] = [];
    const completed = new Promise<void>((resolve) => {
      void sync.on('error', (err) => errors.push(err)).on('complete', () => resolve());
    });
    try {
      const put = await putJson(`${remoteUrl}/live-from-server`, { origin: 'server' });
      expect(put.status).toBe(201);
      const arrived = await eventually(() => local.get('live-from-server').catch(() => undefined));
      expect(arrived).toMatchObject({ _rev: put.body.rev, origin: 'server' });

      const written = await local.put({ _id: 'live-from-local', origin: 'local' });
      const onServer = await eventually(async () => {
        const res = await getJson(`${remoteUrl}/live-from-local`);
        return res.status === 200 ? res.body : undefined;
      });
      expect(onServer).toMatchObject({ _rev: written.rev, origin: 'local' });

      const update = await putJson(`${remoteUrl}/live-from-server`, { origin: 'server', edited: true, _rev: put.body.rev });
      await eventually(async () => (await local.get('live-from-server'))._rev === update.body.rev);
    } finally {
      sync.cancel();
    }
    await completed;
    expect(errors).toEqual([]);
  });

  it('agrees on the winner and conflicts of a doc edited on two PouchDBs, then converges once resolved', async () => {
    const id = 'conflicted';
    const base = await putJson(`${remoteUrl}/${id}`, { value: 'base' });
    expect(base.status).toBe(201);
    const remote = remotePouch(remoteUrl);
    const a = memoryPouch('conflict-a');
    const b = memoryPouch('conflict-b');
    await a.replicate.from(remote, { doc_ids: [id] });
    await b.replicate.from(remote, { doc_ids: [id] });

    const onA = await a.put({ ...(await a.get(id)), value: 'edited on A' });
    const onB = await b.put({ ...(await b.get(id)), value: 'edited on B', more: true });
    expect(onA.rev.startsWith('2-')).toBe(true);
    expect(onB.rev.startsWith('2-')).toBe(true);
    expect(onA.rev).not.toBe(onB.rev);

    await a.replicate.to(remote, { doc_ids: [id] });
    await b.replicate.to(remote, { doc_ids: [id] });
    await a.replicate.from(remote, { doc_ids: [id] });
    await b.replicate.from(remote, { doc_ids: [id] });

    const winner = onA.rev > onB.rev ? onA.rev : onB.rev;
    const loser = winner === onA.rev ? onB.rev : onA.rev;
    const fromServer = await getJson(`${remoteUrl}/${id}?conflicts=true`);
    expect(fromServer.body._rev).toBe(winner);
    expect(fromServer.body._conflicts).toEqual([loser]);
    for (const db of [a, b, remote]) {
      const doc = await db.get(id, { conflicts: true });
      expect(doc._rev).toBe(winner);
      expect(doc._conflicts).toEqual([loser]);
    }
    const leaves = await getJson<Array<{ ok: Doc }>>(`${remoteUrl}/${id}?open_revs=all`);
    expect(leaves.body.map((r) => r.ok._rev).sort()).toEqual([onA.rev, onB.rev].sort());

    const resolved = await a.remove(id, loser);
    await a.sync(remote, { doc_ids: [id] });
    await b.replicate.from(remote, { doc_ids: [id] });

    for (const db of [a, b, remote]) {
      const doc = await db.get(id, { conflicts: true });
      expect(doc._rev).toBe(winner);
      expect(doc._conflicts).toBeUndefined();
    }
    const after = await getJson(`${remoteUrl}/${id}?conflicts=true&deleted_conflicts=true`);
    expect(after.body._conflicts).toBeUndefined();
    expect(after.body._deleted_conflicts).toEqual([resolved.rev]);
    expect(after.body.value).toBe(winner === onA.rev ? 'edited on A' : 'edited on B');
  });

  it('replicates both branches of a conflict with their own attachments to a fresh PouchDB', async () => {
    const id = 'conflict-atts';
    const remote = remotePouch(remoteUrl);
    const a = memoryPouch('conflict-atts-a');
    const b = memoryPouch('conflict-atts-b');
    const base = await a.put({ _id: id, v: 0 });
    await a.replicate.to(remote, { doc_ids: [id] });
    await b.replicate.from(remote, { doc_ids: [id] });
    const bytesA = randomBytes(5000);
    const bytesB = randomBytes(7000);
    const revA = (await a.putAttachment(id, 'a.bin', base.rev, bytesA, 'application/x-a')).rev;
    const revB = (await b.putAttachment(id, 'b.bin', base.rev, bytesB, 'application/x-b')).rev;
    await a.replicate.to(remote, { doc_ids: [id] });
    await b.replicate.to(remote, { doc_ids: [id] });

    const copy = memoryPouch('conflict-atts-copy');
    await copy.replicate.from(remote, { doc_ids: [id] });
    const winner = revA > revB ? revA : revB;
    const doc = await copy.get(id, { conflicts: true });
    expect(doc._rev).toBe(winner);
    expect(doc._conflicts).toEqual([winner === revA ? revB : revA]);
    const leafA = await copy.get(id, { rev: revA, attachments: true, binary: true });
    const leafB = await copy.get(id, { rev: revB, attachments: true, binary: true });
    expect(Object.keys(leafA._attachments!)).toEqual(['a.bin']);
    expect(Object.keys(leafB._attachments!)).toEqual(['b.bin']);
    expect((leafA._attachments!['a.bin'] as { data: Buffer }).data.equals(bytesA)).toBe(true);
    expect((leafB._attachments!['b.bin'] as { data: Buffer }).data.equals(bytesB)).toBe(true);
    const loserOnServer = await fetchBytes(`${remoteUrl}/${id}/${winner === revA ? 'b.bin' : 'a.bin'}?rev=${winner === revA ? revB : revA}`);
    expect(loserOnServer.bytes.equals(winner === revA ? bytesB : bytesA)).toBe(true);
  });

  it('round-trips binary, empty and text attachments byte-exact through push, REST GET and a fresh pull', async () => {
    const big = randomBytes(200 * 1024);
    const empty = Buffer.alloc(0);
    const text = Buffer.from('plain text attachment, ünïcödé\n', 'utf8');
    const local = memoryPouch('att-source');
    const remote = remotePouch(remoteUrl);
    await local.put({
      _id: 'att-doc',
      title: 'with attachments',
      _attachments: {
        'big.bin': { content_type: 'application/octet-stream', data: big },
        'empty.dat': { content_type: 'application/x-empty', data: empty },
        'note.txt': { content_type: 'text/plain', data: text },
      },
    });
    const pushed = await local.replicate.to(remote, { doc_ids: ['att-doc'] });
    expect(pushed.docs_written).toBe(1);

    const bigGet = await fetchBytes(`${remoteUrl}/att-doc/big.bin`);
    expect(bigGet.status).toBe(200);
    expect(bigGet.type).toBe('application/octet-stream');
    expect(bigGet.bytes.equals(big)).toBe(true);
    const emptyGet = await fetchBytes(`${remoteUrl}/att-doc/empty.dat`);
    expect(emptyGet.status).toBe(200);
    expect(emptyGet.type).toBe('application/x-empty');
    expect(emptyGet.bytes.length).toBe(0);
    const textGet = await fetchBytes(`${remoteUrl}/att-doc/note.txt`);
    expect(textGet.type).toBe('text/plain');
    expect(textGet.bytes.equals(text)).toBe(true);

    const stubs = (await getJson(`${remoteUrl}/att-doc`)).body._attachments;
    expect(stubs['big.bin']).toMatchObject({ stub: true, length: big.length, content_type: 'application/octet-stream' });
    expect(stubs['empty.dat']).toMatchObject({ stub: true, length: 0 });

    const copy = memoryPouch('att-copy');
    await copy.replicate.from(remote, { doc_ids: ['att-doc'] });
    expect((await attachmentBytes(copy, 'att-doc', 'big.bin')).equals(big)).toBe(true);
    expect((await attachmentBytes(copy, 'att-doc', 'empty.dat')).length).toBe(0);
    expect((await attachmentBytes(copy, 'att-doc', 'note.txt')).equals(text)).toBe(true);
    const copied = await copy.get('att-doc');
    const original = await local.get('att-doc');
    expect(copied._rev).toBe(original._rev);
    expect(copied._attachments!['note.txt']!.content_type).toBe('text/plain');
    expect(copied._attachments!['big.bin']!.digest).toBe(original._attachments!['big.bin']!.digest);
  });

  it('pulls an attachment PUT over REST with raw bytes into PouchDB byte-exact', async () => {
    const bytes = randomBytes(64 * 1024);
    const created = await putJson(`${remoteUrl}/rest-att`, { kind: 'photo holder' });
    const attached = await request('PUT', `${remoteUrl}/rest-att/photo.jpg?rev=${created.body.rev}`, bytes, { 'Content-Type': 'image/jpeg' });
    expect(attached.status).toBe(201);
    expect(attached.body.rev.startsWith('2-')).toBe(true);

    const local = memoryPouch('rest-att');
    await local.replicate.from(remotePouch(remoteUrl), { doc_ids: ['rest-att'] });
    const doc = await local.get('rest-att');
    expect(doc._rev).toBe(attached.body.rev);
    expect(doc).toMatchObject({ kind: 'photo holder' });
    expect(doc._attachments!['photo.jpg']).toMatchObject({ content_type: 'image/jpeg', length: bytes.length });
    expect((await attachmentBytes(local, 'rest-att', 'photo.jpg')).equals(bytes)).toBe(true);
  });

  it('keeps the updated attachment bytes when a later revision only carries stubs', async () => {
    const v1 = randomBytes(10_000);
    const v2 = randomBytes(12_000);
    const local = memoryPouch('att-stubs');
    const remote = remotePouch(remoteUrl);
    const first = await local.put({ _id: 'stub-doc', step: 1, _attachments: { 'data.bin': { content_type: 'application/octet-stream', data: v1 } } });
    await local.replicate.to(remote, { doc_ids: ['stub-doc'] });

    const second = await local.putAttachment('stub-doc', 'data.bin', first.rev, v2, 'application/octet-stream');
    const withStubs = await local.get('stub-doc');
    expect(withStubs._attachments!['data.bin']!.stub).toBe(true);
    const third = await local.put({ ...withStubs, step: 3 });
    expect(third.rev.startsWith('3-')).toBe(true);
    expect(second.rev.startsWith('2-')).toBe(true);
    await local.replicate.to(remote, { doc_ids: ['stub-doc'] });

    const onServer = await getJson(`${remoteUrl}/stub-doc`);
    expect(onServer.body).toMatchObject({ _rev: third.rev, step: 3 });
    expect(onServer.body._attachments['data.bin']).toMatchObject({ length: v2.length, revpos: 2 });
    expect((await fetchBytes(`${remoteUrl}/stub-doc/data.bin`)).bytes.equals(v2)).toBe(true);

    const edit = await putJson(`${remoteUrl}/stub-doc`, { ...onServer.body, step: 4 });
    expect(edit.status).toBe(201);
    expect((await fetchBytes(`${remoteUrl}/stub-doc/data.bin`)).bytes.equals(v2)).toBe(true);

    const copy = memoryPouch('att-stubs-copy');
    await copy.replicate.from(remote, { doc_ids: ['stub-doc'] });
    expect(await copy.get('stub-doc')).toMatchObject({ _rev: edit.body.rev, step: 4 });
    expect((await attachmentBytes(copy, 'stub-doc', 'data.bin')).equals(v2)).toBe(true);

    await local.replicate.from(remote, { doc_ids: ['stub-doc'] });
    expect((await local.get('stub-doc'))._rev).toBe(edit.body.rev);
    expect((await attachmentBytes(local, 'stub-doc', 'data.bin')).equals(v2)).toBe(true);
  });
});
