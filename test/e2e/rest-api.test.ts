import { randomBytes } from 'node:crypto';
import { decodeDocumentMultipart, decodeRevisionsMixed, encodeDocumentRelated } from '@syncline/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, getJson, postJson, putJson, request } from '../support/rest.ts';
import { OPEN_GUEST, startTestServer, type TestServer } from '../support/server-process.ts';

let server: TestServer;
let dbCounter = 0;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

/** Creates a fresh database through the admin API and returns its public URL. */
async function freshDb(prefix: string, config: Record<string, unknown> = {}): Promise<string> {
  const name = `${prefix}-${++dbCounter}`;
  const created = await putJson(`${server.adminUrl}/${name}/`, { users: OPEN_GUEST, ...config });
  expect(created.status).toBe(201);
  return `${server.url}/${name}`;
}

const adminUrlOf = (publicDbUrl: string) => publicDbUrl.replace(server.url, server.adminUrl);

async function fetchRaw(url: string, init: RequestInit = {}): Promise<{ status: number; type: string; body: Buffer }> {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: Buffer.from(await res.arrayBuffer()) };
}

/** Writes a chain of `count` revisions of one document and returns their revision IDs, oldest first. */
async function editChain(dbUrl: string, id: string, count: number): Promise<string[]> {
  const revs: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await putJson(`${dbUrl}/${id}`, { step: i, ...(revs.length > 0 ? { _rev: revs[revs.length - 1] } : {}) });
    expect(res.status).toBe(201);
    revs.push(res.body.rev);
  }
  return revs;
}

const digestOf = (rev: string) => rev.slice(rev.indexOf('-') + 1);

describe('revision reads', () => {
  let dbUrl: string;

  beforeAll(async () => {
    dbUrl = await freshDb('revs');
  });

  it('gives _revisions with ?revs=true and _revs_info with ?revs_info=true', async () => {
    const revs = await editChain(dbUrl, 'history', 3);
    const withRevs = await getJson(`${dbUrl}/history?revs=true`);
    expect(withRevs.body._revisions).toEqual({ start: 3, ids: [...revs].reverse().map(digestOf) });

    const withInfo = await getJson(`${dbUrl}/history?revs_info=true`);
    expect(withInfo.body._revs_info.map((r: { rev: string }) => r.rev)).toEqual([...revs].reverse());
    expect(withInfo.body._revs_info[0]).toEqual({ rev: revs[2], status: 'available' });

    const older = await getJson(`${dbUrl}/history?rev=${revs[0]}&revs=true`);
    expect(older.status).toBe(404);

    const removed = await del(`${dbUrl}/history?rev=${revs[2]}`);
    const info = await getJson(`${dbUrl}/history?rev=${removed.body.rev}&revs_info=true`);
    expect(info.body._deleted).toBe(true);
    expect(info.body._revs_info[0]).toEqual({ rev: removed.body.rev, status: 'deleted' });
  });

  it('answers open_revs=all and an open_revs list as JSON with ok and missing entries', async () => {
    await putJson(`${dbUrl}/branches?new_edits=false`, { _id: 'branches', _rev: '1-a1', v: 1 });
    await putJson(`${dbUrl}/branches?new_edits=false`, { _id: 'branches', _rev: '2-b2', _revisions: { start: 2, ids: ['b2', 'a1'] }, v: 'b' });
    await putJson(`${dbUrl}/branches?new_edits=false`, { _id: 'branches', _rev: '2-c3', _revisions: { start: 2, ids: ['c3', 'a1'] }, v: 'c' });

    const all = await getJson<Array<{ ok: Record<string, unknown> }>>(`${dbUrl}/branches?open_revs=all`);
    expect(all.status).toBe(200);
    expect(all.body.map((r) => r.ok._rev).sort()).toEqual(['2-b2', '2-c3']);
    expect(all.body.find((r) => r.ok._rev === '2-c3')!.ok).toEqual({ _id: 'branches', _rev: '2-c3', v: 'c' });

    const listed = await getJson(`${dbUrl}/branches?open_revs=${encodeURIComponent(JSON.stringify(['2-b2', '9-nothere']))}&revs=true`);
    expect(listed.body).toEqual([
      { ok: { _id: 'branches', _rev: '2-b2', v: 'b', _revisions: { start: 2, ids: ['b2', 'a1'] } } },
      { missing: '9-nothere' },
    ]);

    const unknownDoc = await getJson(`${dbUrl}/no-such-doc?open_revs=${encodeURIComponent('["1-abc"]')}`);
    expect(unknownDoc.body).toEqual([{ missing: '1-abc' }]);
    expect((await getJson(`${dbUrl}/branches?open_revs=garbage`)).status).toBe(400);
  });

  it('answers open_revs as multipart/mixed, with attachments as multipart/related parts', async () => {
    const bytes = randomBytes(3000);
    const created = await putJson(`${dbUrl}/mixed`, {
      title: 'mixed',
      _attachments: { 'raw.bin': { content_type: 'application/octet-stream', data: bytes.toString('base64') } },
    });
    const revs = encodeURIComponent(JSON.stringify([created.body.rev, '7-gone']));

    const plain = await fetchRaw(`${dbUrl}/mixed?open_revs=${revs}`, { headers: { Accept: 'multipart/mixed' } });
    expect(plain.status).toBe(200);
    expect(plain.type.startsWith('multipart/mixed')).toBe(true);
    const entries = decodeRevisionsMixed(plain.body, plain.type);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ doc: { _id: 'mixed', _rev: created.body.rev, title: 'mixed' } });
    expect(entries[1]).toEqual({ missing: '7-gone' });

    const withAtts = await fetchRaw(`${dbUrl}/mixed?open_revs=all&attachments=true&revs=true`, { headers: { Accept: 'multipart/mixed' } });
    const [entry] = decodeRevisionsMixed(withAtts.body, withAtts.type);
    if (!entry || 'missing' in entry) throw new Error('expected a revision');
    expect(entry.doc._revisions).toEqual({ start: 1, ids: [digestOf(created.body.rev)] });
    expect(entry.doc._attachments).toMatchObject({ 'raw.bin': { follows: true, length: bytes.length } });
    expect(entry.attachments.get('raw.bin')!.equals(bytes)).toBe(true);
  });

  it('creates conflicts with new_edits=false through PUT and _bulk_docs, and picks the winner by generation then rev string', async () => {
    const put = await putJson(`${dbUrl}/winner?new_edits=false`, { _id: 'winner', _rev: '1-aaaa', v: 'root' });
    expect(put.status).toBe(201);
    expect(put.body.rev).toBe('1-aaaa');
    const bulk = await postJson(`${dbUrl}/_bulk_docs`, {
      new_edits: false,
      docs: [
        { _id: 'winner', _rev: '3-cccc', _revisions: { start: 3, ids: ['cccc', 'bbbb', 'aaaa'] }, v: 'long' },
        { _id: 'winner', _rev: '2-ffff', _revisions: { start: 2, ids: ['ffff', 'aaaa'] }, v: 'short but higher' },
      ],
    });
    expect(bulk.status).toBe(201);
    expect(bulk.body).toEqual([
      { id: 'winner', rev: '3-cccc' },
      { id: 'winner', rev: '2-ffff' },
    ]);
    let doc = await getJson(`${dbUrl}/winner?conflicts=true`);
    expect(doc.body).toMatchObject({ _rev: '3-cccc', v: 'long', _conflicts: ['2-ffff'] });

    await putJson(`${dbUrl}/winner?new_edits=false`, { _id: 'winner', _rev: '3-dddd', _revisions: { start: 3, ids: ['dddd', 'ffff', 'aaaa'] }, v: 'same generation' });
    doc = await getJson(`${dbUrl}/winner?conflicts=true`);
    expect(doc.body).toMatchObject({ _rev: '3-dddd', v: 'same generation', _conflicts: ['3-cccc'] });

    await putJson(`${dbUrl}/winner?new_edits=false`, { _id: 'winner', _rev: '4-eeee', _revisions: { start: 4, ids: ['eeee', 'dddd'] }, _deleted: true });
    doc = await getJson(`${dbUrl}/winner?conflicts=true&deleted_conflicts=true`);
    expect(doc.body).toMatchObject({ _rev: '3-cccc', v: 'long', _deleted_conflicts: ['4-eeee'] });
    expect(doc.body._conflicts).toBeUndefined();

    const again = await postJson(`${dbUrl}/_bulk_docs`, { new_edits: false, docs: [{ _id: 'winner', _rev: '3-cccc', _revisions: { start: 3, ids: ['cccc', 'bbbb', 'aaaa'] }, v: 'ignored' }] });
    expect(again.body).toEqual([{ id: 'winner', rev: '3-cccc' }]);
    expect((await getJson(`${dbUrl}/winner`)).body.v).toBe('long');

    const changes = await getJson(`${dbUrl}/_changes?style=all_docs&doc_ids=${encodeURIComponent('["winner"]')}&filter=_doc_ids`);
    expect(changes.body.results[0].changes).toEqual([{ rev: '3-cccc' }, { rev: '4-eeee' }]);
    const leaves = await getJson<Array<{ ok: Record<string, unknown> }>>(`${dbUrl}/winner?open_revs=all`);
    expect(leaves.body.map((r) => r.ok).sort((x, y) => String(x._rev).localeCompare(String(y._rev)))).toEqual([
      { _id: 'winner', _rev: '3-cccc', v: 'long' },
      { _id: 'winner', _rev: '4-eeee', _deleted: true },
    ]);
  });

  it('reports missing revisions and possible ancestors from _revs_diff', async () => {
    const revs = await editChain(dbUrl, 'diffed', 2);
    const diff = await postJson(`${dbUrl}/_revs_diff`, {
      diffed: [revs[0], revs[1], '3-abcdef', '2-0123'],
      'diff-unknown': ['1-aaaa', '2-bbbb'],
      'history': ['1-notthere'],
    });
    expect(diff.status).toBe(200);
    expect(diff.body.diffed).toEqual({ missing: ['3-abcdef', '2-0123'], possible_ancestors: [revs[1]] });
    expect(diff.body['diff-unknown']).toEqual({ missing: ['1-aaaa', '2-bbbb'] });
    expect(diff.body.history).toEqual({ missing: ['1-notthere'] });

    const nothing = await postJson(`${dbUrl}/_revs_diff`, { diffed: revs });
    expect(nothing.body).toEqual({});
  });

  it('returns documents, histories, attachments and error entries from _bulk_get', async () => {
    const bytes = randomBytes(500);
    const first = await putJson(`${dbUrl}/bulk-a`, { n: 1, _attachments: { 'a.bin': { content_type: 'application/x-a', data: bytes.toString('base64') } } });
    const second = await putJson(`${dbUrl}/bulk-a`, { n: 2, _rev: first.body.rev, _attachments: { 'a.bin': { stub: true } } });
    const other = await putJson(`${dbUrl}/bulk-b`, { n: 3 });

    const res = await postJson(`${dbUrl}/_bulk_get?revs=true&attachments=true`, {
      docs: [{ id: 'bulk-a', rev: second.body.rev }, { id: 'bulk-b' }, { id: 'bulk-b', rev: '5-missing' }, { id: 'bulk-nope' }],
    });
    expect(res.status).toBe(200);
    const [a, b, bMissing, nope] = res.body.results;
    expect(a.id).toBe('bulk-a');
    expect(a.docs[0].ok).toMatchObject({
      _id: 'bulk-a',
      _rev: second.body.rev,
      n: 2,
      _revisions: { start: 2, ids: [digestOf(second.body.rev), digestOf(first.body.rev)] },
      _attachments: { 'a.bin': { content_type: 'application/x-a', revpos: 1, length: 500, data: bytes.toString('base64') } },
    });
    expect(b.docs[0].ok).toMatchObject({ _id: 'bulk-b', _rev: other.body.rev, n: 3 });
    expect(bMissing.docs[0].error).toMatchObject({ id: 'bulk-b', rev: '5-missing', error: 'not_found' });
    expect(nope.docs[0].error).toMatchObject({ id: 'bulk-nope', error: 'not_found' });

    const stubsOnly = await postJson(`${dbUrl}/_bulk_get`, { docs: [{ id: 'bulk-a', atts_since: [first.body.rev] }] });
    const doc = stubsOnly.body.results[0].docs[0].ok;
    expect(doc._attachments['a.bin'].stub).toBe(true);
    expect(doc._revisions).toBeUndefined();
  });
});

describe('_all_docs', () => {
  let dbUrl: string;
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const revs = new Map<string, string>();

  beforeAll(async () => {
    dbUrl = await freshDb('alldocs');
    const res = await postJson<Array<{ id: string; rev: string }>>(`${dbUrl}/_bulk_docs`, { docs: ids.map((id, n) => ({ _id: id, n })) });
    for (const r of res.body) revs.set(r.id, r.rev);
    const removed = await del(`${dbUrl}/f?rev=${revs.get('f')}`);
    revs.set('f', removed.body.rev);
    await putJson(`${dbUrl}/_local/hidden`, { local: true });
  });

  const rowIds = (body: { rows: Array<{ id?: string; key: string }> }) => body.rows.map((r) => r.key);

  it('lists live documents in id order with their revs and total_rows', async () => {
    const res = await getJson(`${dbUrl}/_all_docs`);
    expect(res.body.total_rows).toBe(5);
    expect(res.body.offset).toBe(0);
    expect(res.body.rows).toEqual(ids.slice(0, 5).map((id) => ({ id, key: id, value: { rev: revs.get(id) } })));
  });

  it('includes documents, pages with limit and skip, and sorts descending', async () => {
    const withDocs = await getJson(`${dbUrl}/_all_docs?include_docs=true&limit=2`);
    expect(withDocs.body.rows).toEqual([
      { id: 'a', key: 'a', value: { rev: revs.get('a') }, doc: { _id: 'a', _rev: revs.get('a'), n: 0 } },
      { id: 'b', key: 'b', value: { rev: revs.get('b') }, doc: { _id: 'b', _rev: revs.get('b'), n: 1 } },
    ]);
    expect(rowIds((await getJson(`${dbUrl}/_all_docs?limit=2&skip=2`)).body)).toEqual(['c', 'd']);
    expect(rowIds((await getJson(`${dbUrl}/_all_docs?descending=true`)).body)).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(rowIds((await getJson(`${dbUrl}/_all_docs?descending=true&limit=2&skip=1`)).body)).toEqual(['d', 'c']);
  });

  it('restricts the range with startkey and endkey, JSON-encoded or bare, ascending and descending', async () => {
    expect(rowIds((await getJson(`${dbUrl}/_all_docs?startkey=%22b%22&endkey=%22d%22`)).body)).toEqual(['b', 'c', 'd']);
    expect(rowIds((await getJson(`${dbUrl}/_all_docs?start_key=b&end_key=d&inclusive_end=false`)).body)).toEqual(['b', 'c']);
    expect(rowIds((await getJson(`${dbUrl}/_all_docs?startkey=%22d%22&endkey=%22b%22&descending=true`)).body)).toEqual(['d', 'c', 'b']);
  });

  it('looks up keys sent with POST, reporting missing and deleted ones', async () => {
    const res = await postJson(`${dbUrl}/_all_docs?include_docs=true`, { keys: ['c', 'zz', 'f', 'a'] });
    expect(res.status).toBe(200);
    expect(res.body.rows).toEqual([
      { id: 'c', key: 'c', value: { rev: revs.get('c') }, doc: { _id: 'c', _rev: revs.get('c'), n: 2 } },
      { key: 'zz', error: 'not_found' },
      { id: 'f', key: 'f', value: { rev: revs.get('f'), deleted: true }, doc: null },
      { id: 'a', key: 'a', value: { rev: revs.get('a') }, doc: { _id: 'a', _rev: revs.get('a'), n: 0 } },
    ]);
    const viaQuery = await getJson(`${dbUrl}/_all_docs?keys=${encodeURIComponent('["b","a"]')}`);
    expect(rowIds(viaQuery.body)).toEqual(['b', 'a']);
  });
});

describe('_changes', () => {
  let dbUrl: string;
  const revs = new Map<string, string>();

  beforeAll(async () => {
    // Sequence 1 is the GUEST user's record (freshDb enables GUEST); documents start at 2.
    dbUrl = await freshDb('changes');
    for (const id of ['one', 'two', 'three', 'four']) revs.set(id, (await putJson(`${dbUrl}/${id}`, { id })).body.rev);
    revs.set('two', (await del(`${dbUrl}/two?rev=${revs.get('two')}`)).body.rev);
    revs.set('one', (await putJson(`${dbUrl}/one`, { id: 'one', again: true, _rev: revs.get('one') })).body.rev);
    await putJson(`${dbUrl}/_local/checkpoint`, { seq: 1 });
  });

  interface Change {
    seq: number;
    id: string;
    changes: Array<{ rev: string }>;
    deleted?: true;
    doc?: Record<string, unknown>;
  }

  it('lists each document once at its latest sequence, from since, with limit', async () => {
    const all = await getJson<{ results: Change[]; last_seq: number }>(`${dbUrl}/_changes`);
    expect(all.body.results.map((c) => c.id)).toEqual(['three', 'four', 'two', 'one']);
    expect(all.body.results.map((c) => c.seq)).toEqual([4, 5, 6, 7]);
    expect(all.body.last_seq).toBe(7);
    expect(all.body.results[2]).toEqual({ seq: 6, id: 'two', changes: [{ rev: revs.get('two') }], deleted: true });

    const since = await getJson<{ results: Change[]; last_seq: number }>(`${dbUrl}/_changes?since=5`);
    expect(since.body.results.map((c) => c.id)).toEqual(['two', 'one']);
    const limited = await getJson<{ results: Change[]; last_seq: number }>(`${dbUrl}/_changes?since=4&limit=2`);
    expect(limited.body.results.map((c) => c.id)).toEqual(['four', 'two']);
    expect(limited.body.last_seq).toBe(6);
    const none = await getJson(`${dbUrl}/_changes?since=7`);
    expect(none.body).toEqual({ results: [], last_seq: 7 });
  });

  it('includes docs, skips deletions with active_only and filters by doc ids', async () => {
    const withDocs = await getJson<{ results: Change[] }>(`${dbUrl}/_changes?include_docs=true&since=4`);
    expect(withDocs.body.results.map((c) => c.doc)).toEqual([
      { _id: 'four', _rev: revs.get('four'), id: 'four' },
      { _id: 'two', _rev: revs.get('two'), _deleted: true },
      { _id: 'one', _rev: revs.get('one'), id: 'one', again: true },
    ]);
    const active = await getJson<{ results: Change[] }>(`${dbUrl}/_changes?active_only=true`);
    expect(active.body.results.map((c) => c.id)).toEqual(['three', 'four', 'one']);

    const filtered = await getJson<{ results: Change[]; last_seq: number }>(`${dbUrl}/_changes?filter=_doc_ids&doc_ids=${encodeURIComponent('["one","three"]')}`);
    expect(filtered.body.results.map((c) => c.id)).toEqual(['three', 'one']);
    expect(filtered.body.last_seq).toBe(7);
    const posted = await postJson<{ results: Change[]; last_seq: number }>(`${dbUrl}/_changes`, { filter: '_doc_ids', doc_ids: ['two', 'four'] });
    expect(posted.body.results.map((c) => c.id)).toEqual(['four', 'two']);
    expect(posted.body.last_seq).toBe(7);
    expect((await getJson(`${dbUrl}/_changes?filter=_doc_ids`)).status).toBe(400);
  });

  it('lists every leaf with style=all_docs, the winner first', async () => {
    await putJson(`${dbUrl}/branchy?new_edits=false`, { _id: 'branchy', _rev: '1-11', v: 0 });
    await putJson(`${dbUrl}/branchy?new_edits=false`, { _id: 'branchy', _rev: '2-22', _revisions: { start: 2, ids: ['22', '11'] } });
    await putJson(`${dbUrl}/branchy?new_edits=false`, { _id: 'branchy', _rev: '2-33', _revisions: { start: 2, ids: ['33', '11'] } });
    const ids = encodeURIComponent('["branchy"]');
    const mainOnly = await getJson<{ results: Change[] }>(`${dbUrl}/_changes?filter=_doc_ids&doc_ids=${ids}`);
    expect(mainOnly.body.results[0]!.changes).toEqual([{ rev: '2-33' }]);
    const allDocs = await getJson<{ results: Change[] }>(`${dbUrl}/_changes?style=all_docs&filter=_doc_ids&doc_ids=${ids}`);
    expect(allDocs.body.results[0]!.changes).toEqual([{ rev: '2-33' }, { rev: '2-22' }]);
  });

  it('holds a longpoll request open until a write wakes it', async () => {
    const { last_seq: seq } = (await getJson(`${dbUrl}/_changes?since=now&limit=1`)).body as { last_seq: number };
    const waiting = getJson<{ results: Change[]; last_seq: number }>(`${dbUrl}/_changes?feed=longpoll&since=${seq}&timeout=60000`);
    await new Promise((r) => setTimeout(r, 200));
    const written = await putJson(`${dbUrl}/wake-up`, { hello: true });
    const woke = await waiting;
    expect(woke.status).toBe(200);
    expect(woke.body.results).toEqual([{ seq: seq + 1, id: 'wake-up', changes: [{ rev: written.body.rev }] }]);
    expect(woke.body.last_seq).toBe(seq + 1);

    const timedOut = await getJson(`${dbUrl}/_changes?feed=longpoll&since=now&timeout=100`);
    expect(timedOut.body).toEqual({ results: [], last_seq: seq + 1 });
    const beating = await fetchRaw(`${dbUrl}/_changes?feed=longpoll&since=now&heartbeat=50&timeout=1000`);
    expect(beating.body.toString().startsWith('\n')).toBe(true);
    expect(JSON.parse(beating.body.toString())).toEqual({ results: [], last_seq: seq + 1 });
  });

  it('streams a continuous feed line by line, including writes made while it is open', async () => {
    const abort = new AbortController();
    const res = await fetch(`${dbUrl}/_changes?feed=continuous&since=4&timeout=60000`, { signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    const lines: Change[] = [];
    const readUntil = async (done: () => boolean) => {
      while (!done()) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error('feed ended early');
        buffered += decoder.decode(chunk.value, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf('\n')) !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim() !== '') lines.push(JSON.parse(line) as Change);
        }
      }
    };
    try {
      await readUntil(() => lines.some((l) => l.id === 'one'));
      expect(lines.slice(0, 3).map((l) => l.id)).toEqual(['four', 'two', 'one']);
      const written = await putJson(`${dbUrl}/streamed`, { live: true });
      await readUntil(() => lines.some((l) => l.id === 'streamed'));
      expect(lines.find((l) => l.id === 'streamed')!.changes).toEqual([{ rev: written.body.rev }]);
    } finally {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    }
  });

  it('ends a continuous feed with last_seq on timeout, sending heartbeat newlines while idle', async () => {
    const latest = (await getJson(`${dbUrl}`)).body.update_seq as number;
    const quiet = await fetchRaw(`${dbUrl}/_changes?feed=continuous&since=now&timeout=200`);
    expect(quiet.body.toString()).toBe(`${JSON.stringify({ last_seq: latest })}\n`);

    const beating = await fetchRaw(`${dbUrl}/_changes?feed=continuous&since=now&heartbeat=50&timeout=1000`);
    const text = beating.body.toString();
    expect(text.endsWith(`${JSON.stringify({ last_seq: latest })}\n`)).toBe(true);
    expect(text.startsWith('\n')).toBe(true);
    expect(text.trim()).toBe(JSON.stringify({ last_seq: latest }));

    const limited = await fetchRaw(`${dbUrl}/_changes?feed=continuous&since=0&limit=2&timeout=60000`);
    const limitedLines = limited.body.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(limitedLines.map((l) => l.id ?? 'end')).toEqual(['three', 'four', 'end']);
    expect(limitedLines[2]).toEqual({ last_seq: 5 });
  });
});

describe('_local documents', () => {
  it('versions _local docs as 0-N, refuses stale revs and keeps them out of _changes and _all_docs', async () => {
    const dbUrl = await freshDb('local');
    const first = await putJson(`${dbUrl}/_local/cp`, { seq: 1 });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ ok: true, id: '_local/cp', rev: '0-1' });
    const second = await putJson(`${dbUrl}/_local/cp`, { _rev: '0-1', seq: 2 });
    expect(second.body.rev).toBe('0-2');
    expect((await getJson(`${dbUrl}/_local/cp`)).body).toEqual({ _id: '_local/cp', _rev: '0-2', seq: 2 });

    const stale = await putJson(`${dbUrl}/_local/cp`, { _rev: '0-1', seq: 3 });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe('conflict');
    expect((await putJson(`${dbUrl}/_local/cp`, { seq: 3 })).status).toBe(409);

    expect((await getJson(`${dbUrl}/_changes`)).body.results).toEqual([]);
    expect((await getJson(`${dbUrl}/_all_docs`)).body).toMatchObject({ total_rows: 0, rows: [] });
    expect((await getJson(`${dbUrl}`)).body.doc_count).toBe(0);

    expect((await del(`${dbUrl}/_local/cp?rev=0-1`)).status).toBe(409);
    expect((await del(`${dbUrl}/_local/cp?rev=0-2`)).status).toBe(200);
    expect((await getJson(`${dbUrl}/_local/cp`)).status).toBe(404);
    expect((await putJson(`${dbUrl}/_local/cp`, { seq: 4 })).body.rev).toBe('0-1');
  });
});

describe('admin maintenance', () => {
  it('purges documents through the admin API only, removing them from _changes, _all_docs and GET', async () => {
    const dbUrl = await freshDb('purge');
    const keep = await putJson(`${dbUrl}/keep`, { v: 1 });
    const gone = await putJson(`${dbUrl}/gone`, { v: 1 });
    const updated = await putJson(`${dbUrl}/gone`, { v: 2, _rev: gone.body.rev });

    expect((await postJson(`${dbUrl}/_purge`, { gone: [updated.body.rev] })).status).toBe(403);
    const partial = await postJson(`${adminUrlOf(dbUrl)}/_purge`, { gone: [gone.body.rev] });
    expect(partial.body).toEqual({ purged: {} });

    const purged = await postJson(`${adminUrlOf(dbUrl)}/_purge`, { gone: [updated.body.rev], absent: ['1-abc'] });
    expect(purged.status).toBe(200);
    expect(purged.body).toEqual({ purged: { gone: [updated.body.rev] } });

    const fetched = await getJson(`${dbUrl}/gone`);
    expect(fetched.status).toBe(404);
    expect(fetched.body.reason).toBe('missing');
    const changes = await getJson(`${dbUrl}/_changes`);
    expect(changes.body.results.map((c: { id: string }) => c.id)).toEqual(['keep']);
    expect(changes.body.last_seq).toBe((await getJson(dbUrl)).body.update_seq);
    expect((await getJson(`${dbUrl}/_all_docs`)).body).toMatchObject({ total_rows: 1, rows: [{ id: 'keep', value: { rev: keep.body.rev } }] });
    expect((await postJson(`${dbUrl}/_revs_diff`, { gone: [updated.body.rev] })).body).toEqual({ gone: { missing: [updated.body.rev] } });

    const recreated = await putJson(`${dbUrl}/gone`, { v: 'fresh' });
    expect(recreated.status).toBe(201);
    expect(recreated.body.rev.startsWith('1-')).toBe(true);
  });

  it('compacts away attachment bodies no revision references while blobs shared with another doc survive', async () => {
    const dbUrl = await freshDb('compact');
    const shared = randomBytes(2000);
    const unique = randomBytes(2000);
    const att = (data: Buffer) => ({ content_type: 'application/octet-stream', data: data.toString('base64') });
    const holderA = await putJson(`${dbUrl}/holder-a`, { _attachments: { 'shared.bin': att(shared), 'unique.bin': att(unique) } });
    await putJson(`${dbUrl}/holder-b`, { _attachments: { 'copy.bin': att(shared) } });
    const stubs = (await getJson(`${dbUrl}/holder-a`)).body._attachments;
    const sharedDigest = stubs['shared.bin'].digest as string;
    const uniqueDigest = stubs['unique.bin'].digest as string;

    const dropped = await putJson(`${dbUrl}/holder-a`, { _rev: holderA.body.rev, note: 'attachments dropped' });
    expect(dropped.status).toBe(201);
    expect((await request('POST', `${dbUrl}/_compact?type=attachment`)).status).toBe(403);
    const compacted = await request('POST', `${adminUrlOf(dbUrl)}/_compact?type=attachment`);
    expect(compacted.status).toBe(200);
    expect(compacted.body).toMatchObject({ status: 'completed', last_error: '', purged_attachments: 1 });

    const copy = await fetchRaw(`${dbUrl}/holder-b/copy.bin`);
    expect(copy.status).toBe(200);
    expect(copy.body.equals(shared)).toBe(true);

    const stub = (digest: string) => ({ _attachments: { 'probe.bin': { stub: true, digest, length: 2000, content_type: 'application/octet-stream' } } });
    const reuseShared = await putJson(`${dbUrl}/probe-shared`, stub(sharedDigest));
    expect(reuseShared.status).toBe(201);
    const reuseUnique = await putJson(`${dbUrl}/probe-unique`, stub(uniqueDigest));
    expect(reuseUnique.status).toBe(400);

    const second = await request('POST', `${adminUrlOf(dbUrl)}/_compact?type=attachment`);
    expect(second.body).toMatchObject({ status: 'completed', purged_attachments: 0 });
  });
});

describe('database administration', () => {
  it('prunes revision histories to revs_limit and reconfigures it through _config', async () => {
    const created = await putJson(`${server.adminUrl}/pruned/`, { revs_limit: 20 });
    expect(created.status).toBe(201);
    expect((await putJson(`${server.adminUrl}/pruned/_user/GUEST`, OPEN_GUEST.GUEST)).status).toBe(200);
    const dbUrl = `${server.url}/pruned`;
    expect((await getJson(`${server.adminUrl}/pruned/_config`)).body).toMatchObject({ name: 'pruned', revs_limit: 20, server: 'sqlite:./data/pruned.sqlite' });
    expect((await getJson(`${dbUrl}/_config`)).status).toBe(403);

    const revs = await editChain(dbUrl, 'long', 30);
    const doc = await getJson(`${dbUrl}/long?revs=true&revs_info=true`);
    expect(doc.body._revisions.start).toBe(30);
    expect(doc.body._revisions.ids).toEqual(revs.slice(10).reverse().map(digestOf));
    expect(doc.body._revs_info).toHaveLength(20);
    const diff = await postJson(`${dbUrl}/_revs_diff`, { long: [revs[0], revs[29]] });
    expect(diff.body.long.missing).toEqual([revs[0]]);

    const reconfigured = await putJson(`${server.adminUrl}/pruned/_config`, { revs_limit: 25 });
    expect(reconfigured.status).toBe(201);
    expect((await getJson(`${server.adminUrl}/pruned/_config`)).body.revs_limit).toBe(25);
    let rev = revs[29]!;
    for (let i = 0; i < 10; i++) rev = (await putJson(`${dbUrl}/long`, { _rev: rev, more: i })).body.rev;
    const longer = await getJson(`${dbUrl}/long?revs=true`);
    expect(longer.body._revisions).toMatchObject({ start: 40 });
    expect(longer.body._revisions.ids).toHaveLength(25);

    expect((await putJson(`${server.adminUrl}/pruned/_config`, { revs_limit: 5 })).status).toBe(400);
    expect((await putJson(`${server.adminUrl}/pruned/_config`, { name: 'other' })).status).toBe(400);
    expect((await putJson(`${server.adminUrl}/pruned/`, {})).status).toBe(412);
  });

  it('creates and deletes databases through the admin API only', async () => {
    expect((await putJson(`${server.url}/nope/`, {})).status).toBe(403);
    expect((await putJson(`${server.adminUrl}/Bad_Name/`, {})).status).toBe(400);
    expect((await request('PUT', `${server.adminUrl}/scratch/`)).status).toBe(201);
    expect((await putJson(`${server.adminUrl}/scratch/_user/GUEST`, OPEN_GUEST.GUEST)).status).toBe(200);
    expect((await getJson(`${server.adminUrl}/_all_dbs`)).body).toContain('scratch');
    expect((await putJson(`${server.url}/scratch/doc`, { v: 1 })).status).toBe(201);
    expect((await getJson(`${server.url}/scratch/`)).body).toMatchObject({ db_name: 'scratch', doc_count: 1 });

    expect((await del(`${server.url}/scratch/`)).status).toBe(403);
    const removed = await del(`${server.adminUrl}/scratch/`);
    expect(removed.status).toBe(200);
    expect((await getJson(`${server.url}/scratch/doc`)).status).toBe(404);
    expect((await getJson(`${server.adminUrl}/_all_dbs`)).body).not.toContain('scratch');
  });

  it('gives identical revision IDs for the same sequence of edits in two databases', async () => {
    const twins = [await freshDb('twin'), await freshDb('twin')];
    const steps = async (dbUrl: string) => {
      const out: string[] = [];
      const put = async (body: Record<string, unknown>, query = '') => {
        const res = await putJson(`${dbUrl}/same${query}`, body);
        expect(res.status).toBe(201);
        out.push(res.body.rev);
        return res.body.rev as string;
      };
      let rev = await put({ b: 1, a: { z: [1, 2], y: 'ü' } });
      rev = await put({ _rev: rev, a: 2, _attachments: { 'x.txt': { content_type: 'text/plain', data: Buffer.from('x').toString('base64') } } });
      const att = await request('PUT', `${dbUrl}/same/y.bin?rev=${rev}`, Buffer.from([1, 2, 3]), { 'Content-Type': 'application/octet-stream' });
      out.push(att.body.rev);
      const removed = await del(`${dbUrl}/same?rev=${att.body.rev}`);
      out.push(removed.body.rev);
      await put({ again: true });
      return out;
    };
    const [a, b] = [await steps(twins[0]!), await steps(twins[1]!)];
    expect(a).toHaveLength(5);
    expect(b).toEqual(a);
    expect(new Set(a).size).toBe(5);
  });

  it('refuses documents and attachments above the configured size limits with 413', async () => {
    const dbUrl = await freshDb('limits', { max_document_size: 1000, max_attachment_size: 2000 });
    expect((await putJson(`${dbUrl}/small`, { text: 'x'.repeat(500) })).status).toBe(201);
    const big = await putJson(`${dbUrl}/big`, { text: 'x'.repeat(2000) });
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('request_entity_too_large');
    expect((await getJson(`${dbUrl}/big`)).status).toBe(404);

    const bulk = await postJson(`${dbUrl}/_bulk_docs`, { docs: [{ _id: 'bulk-small', v: 1 }, { _id: 'bulk-big', text: 'y'.repeat(2000) }] });
    expect(bulk.status).toBe(201);
    expect(bulk.body[0]).toMatchObject({ id: 'bulk-small' });
    expect(bulk.body[1]).toMatchObject({ id: 'bulk-big', status: 413, error: 'request_entity_too_large' });

    const inline = await putJson(`${dbUrl}/inline`, { _attachments: { 'a.bin': { content_type: 'application/octet-stream', data: randomBytes(3000).toString('base64') } } });
    expect(inline.status).toBe(413);
    const created = await putJson(`${dbUrl}/holder`, {});
    const raw = await request('PUT', `${dbUrl}/holder/a.bin?rev=${created.body.rev}`, randomBytes(3000), { 'Content-Type': 'application/octet-stream' });
    expect(raw.status).toBe(413);
    const fits = await request('PUT', `${dbUrl}/holder/a.bin?rev=${created.body.rev}`, randomBytes(1500), { 'Content-Type': 'application/octet-stream' });
    expect(fits.status).toBe(201);
  });
});

describe('multipart documents', () => {
  it('accepts a multipart/related PUT and serves it back as multipart/related with attachments=true', async () => {
    const dbUrl = await freshDb('multipart');
    const image = randomBytes(40_000);
    const note = Buffer.from('a note\r\n--not-a-boundary\r\n');
    const encoded = encodeDocumentRelated({ _id: 'mp', title: 'multipart' }, [
      { name: 'image.png', contentType: 'image/png', data: image },
      { name: 'note.txt', contentType: 'text/plain', data: note },
    ]);
    const put = await request('PUT', `${dbUrl}/mp`, encoded.body, { 'Content-Type': encoded.contentType });
    expect(put.status).toBe(201);
    const rev = put.body.rev as string;

    const stubs = await getJson(`${dbUrl}/mp`);
    expect(stubs.body).toMatchObject({
      _rev: rev,
      title: 'multipart',
      _attachments: {
        'image.png': { stub: true, content_type: 'image/png', length: image.length, revpos: 1 },
        'note.txt': { stub: true, content_type: 'text/plain', length: note.length, revpos: 1 },
      },
    });
    expect((await fetchRaw(`${dbUrl}/mp/image.png`)).body.equals(image)).toBe(true);

    const related = await fetchRaw(`${dbUrl}/mp?attachments=true`, { headers: { Accept: 'multipart/related' } });
    expect(related.status).toBe(200);
    expect(related.type.startsWith('multipart/related')).toBe(true);
    const decoded = decodeDocumentMultipart(related.body, related.type);
    expect(decoded.doc).toMatchObject({ _id: 'mp', _rev: rev, title: 'multipart' });
    expect(decoded.attachments.get('image.png')!.equals(image)).toBe(true);
    expect(decoded.attachments.get('note.txt')!.equals(note)).toBe(true);

    const asJson = await getJson(`${dbUrl}/mp?attachments=true`);
    expect(Buffer.from(asJson.body._attachments['note.txt'].data, 'base64').equals(note)).toBe(true);

    const update = encodeDocumentRelated({ _id: 'mp', _rev: rev, title: 'second', _attachments: { 'image.png': { stub: true } } }, [
      { name: 'note.txt', contentType: 'text/plain', data: Buffer.from('replaced') },
    ]);
    const second = await request('PUT', `${dbUrl}/mp`, update.body, { 'Content-Type': update.contentType });
    expect(second.status).toBe(201);
    expect((await fetchRaw(`${dbUrl}/mp/note.txt`)).body.toString()).toBe('replaced');
    expect((await fetchRaw(`${dbUrl}/mp/image.png`)).body.equals(image)).toBe(true);
    const after = await getJson(`${dbUrl}/mp`);
    expect(after.body._attachments['image.png'].revpos).toBe(1);
    expect(after.body._attachments['note.txt'].revpos).toBe(2);
  });
});
