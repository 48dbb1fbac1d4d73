/**
 * Channel access control on every read endpoint of the public API, over real HTTP against a server process:
 * single documents and revisions, attachments, _all_docs, _bulk_get, _revs_diff, _changes (one-shot, longpoll
 * and continuous), grants made by documents (access(), role()) and by the admin API, grants to users that do
 * not exist yet, GUEST, and the sync function's requireAccess. Users and roles are declared in the config;
 * documents are written on the admin URL; users authenticate with Basic auth on the public URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, getJson, request, type JsonResponse, basicAuth } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc, oldDoc) {
  if (doc.needs) requireAccess(doc.needs);
  channel(doc.channels);
  if (doc.type === 'membership') access(doc.user, doc.channel);
  if (doc.type === 'team') role(doc.user, 'role:' + doc.team);
}`;

const PASSWORDS: Record<string, string> = {
  alice: 'alicepass',
  bob: 'bobpass',
  lp: 'lppass',
  cont: 'contpass',
  rolly: 'rollypass',
  adm: 'admpass',
  carol: 'carolpass',
};

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    databases: {
      // Declares users, so GUEST keeps its default: disabled.
      db: {
        sync: SYNC,
        roles: { red: { admin_channels: ['red-ch'] } },
        users: {
          alice: { password: PASSWORDS.alice!, admin_channels: ['a', 'a2'] },
          bob: { password: PASSWORDS.bob!, admin_channels: ['b'] },
          lp: { password: PASSWORDS.lp!, admin_channels: ['lp-own'] },
          cont: { password: PASSWORDS.cont!, admin_channels: ['cont-own'] },
          rolly: { password: PASSWORDS.rolly!, admin_channels: ['rolly-own'] },
          adm: { password: PASSWORDS.adm!, admin_channels: ['adm-own'] },
        },
      },
      // Default sync function; GUEST reads only "public".
      open: { users: { GUEST: { disabled: false, admin_channels: ['public'] } } },
    },
  });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

// ---- helpers ----

const as = (user: string): Record<string, string> => ({
  ...basicAuth(user, PASSWORDS[user]!),
});

/** A request on the public URL as `user` (no credentials when user is null). */
function pub<T = any>(user: string | null, method: string, path: string, body?: unknown): Promise<JsonResponse<T>> {
  return request<T>(method, `${server.url}${path}`, body, user === null ? {} : as(user));
}

const getAs = <T = any>(user: string | null, path: string) => pub<T>(user, 'GET', path);

/** Writes a document on the admin URL and returns its new revision. */
async function adminPut(id: string, body: Record<string, unknown>, query = ''): Promise<string> {
  const res = await request('PUT', `${server.adminUrl}/db/${encodeURIComponent(id)}${query}`, body);
  expect({ id, status: res.status }).toEqual({ id, status: 201 });
  return res.body.rev as string;
}

/** Writes documents on the admin URL; returns id → rev. */
async function adminBulk(docs: Array<Record<string, unknown>>, db = 'db'): Promise<Record<string, string>> {
  const res = await request('POST', `${server.adminUrl}/${db}/_bulk_docs`, { docs });
  expect(res.status).toBe(201);
  const revs: Record<string, string> = {};
  for (const r of res.body as Array<{ id: string; rev?: string; error?: string }>) {
    expect(r.error).toBeUndefined();
    revs[r.id] = r.rev!;
  }
  return revs;
}

/** The sequences of documents as the admin feed reports them (id → seq). */
async function adminSeqs(ids: string[]): Promise<Record<string, number>> {
  const res = await getJson(`${server.adminUrl}/db/_changes?filter=_doc_ids&doc_ids=${encodeURIComponent(JSON.stringify(ids))}`);
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const r of res.body.results as Array<{ id: string; seq: number }>) out[r.id] = r.seq;
  expect(Object.keys(out).sort()).toEqual([...ids].sort());
  return out;
}

/** The latest committed sequence. */
async function nowSeq(): Promise<number> {
  const res = await getJson(`${server.adminUrl}/db/_changes?since=now`);
  expect(res.status).toBe(200);
  return res.body.last_seq as number;
}

/** Longpoll and continuous _changes feeds running on "db". */
async function liveFeeds(): Promise<number> {
  const res = await getJson(`${server.adminUrl}/_expvar`);
  return res.body.syncgateway.per_db.db.cbl_replication_pull.num_pull_repl_active_continuous as number;
}

async function noLiveFeeds(): Promise<void> {
  await eventually(async () => (await liveFeeds()) === 0);
}

const FORBIDDEN = { error: 'forbidden', reason: 'forbidden' };

interface Change {
  seq: number | string;
  id: string;
  changes: Array<{ rev: string }>;
  deleted?: true;
  removed?: string[];
  doc?: Record<string, unknown>;
}

/** A continuous feed being read in the background: its parsed lines so far. */
interface ContinuousFeed {
  status: number;
  lines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

async function openContinuous(user: string, query: string): Promise<ContinuousFeed> {
  const abort = new AbortController();
  const res = await fetch(`${server.url}/db/_changes?feed=continuous&${query}`, { headers: as(user), signal: abort.signal });
  const lines: Array<Record<string, unknown>> = [];
  const reading = (async () => {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
  })().catch((err: unknown) => {
    if (!abort.signal.aborted) throw err;
  });
  return {
    status: res.status,
    lines,
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

// ---- tests ----

describe('single documents', () => {
  it('answers 403 forbidden for a document outside the user`s channels and 200 inside', async () => {
    const revA = await adminPut('doc-a', { channels: ['a'], n: 1 });
    await adminPut('doc-b', { channels: ['b'], n: 2 });
    await adminPut('doc-none', { n: 3 });

    const inside = await getAs('alice', '/db/doc-a');
    expect({ status: inside.status, body: inside.body }).toEqual({ status: 200, body: { _id: 'doc-a', _rev: revA, channels: ['a'], n: 1 } });
    for (const id of ['doc-b', 'doc-none']) {
      const outside = await getAs('alice', `/db/${id}`);
      expect({ id, status: outside.status, body: outside.body }).toEqual({ id, status: 403, body: FORBIDDEN });
    }
    // The same document is readable by whoever has its channel, and a missing document stays a 404.
    expect((await getAs('bob', '/db/doc-b')).status).toBe(200);
    const missing = await getAs('alice', '/db/doc-never-written');
    expect({ status: missing.status, body: missing.body }).toEqual({ status: 404, body: { error: 'not_found', reason: 'missing' } });
  });

  it('checks each conflicting revision against the channels its own sync-function run gave it', async () => {
    // Two leaves of generation 1, written as a replicator would; "1-bbbb" wins (same generation, higher id).
    await adminPut('conf', { _rev: '1-aaaa', channels: ['a'], side: 'alice' }, '?new_edits=false');
    await adminPut('conf', { _rev: '1-bbbb', channels: ['b'], side: 'bob' }, '?new_edits=false');
    expect((await getJson(`${server.adminUrl}/db/conf`)).body._rev).toBe('1-bbbb');

    // alice reads only the losing leaf.
    const winner = await getAs('alice', '/db/conf');
    expect({ status: winner.status, body: winner.body }).toEqual({ status: 403, body: FORBIDDEN });
    const own = await getAs('alice', '/db/conf?rev=1-aaaa');
    expect({ status: own.status, body: own.body }).toEqual({ status: 200, body: { _id: 'conf', _rev: '1-aaaa', channels: ['a'], side: 'alice' } });
    const other = await getAs('alice', '/db/conf?rev=1-bbbb');
    expect({ status: other.status, body: other.body }).toEqual({ status: 403, body: FORBIDDEN });

    // bob reads the winner but not alice's leaf.
    expect((await getAs('bob', '/db/conf')).body).toEqual({ _id: 'conf', _rev: '1-bbbb', channels: ['b'], side: 'bob' });
    const hidden = await getAs('bob', '/db/conf?rev=1-aaaa');
    expect({ status: hidden.status, body: hidden.body }).toEqual({ status: 403, body: FORBIDDEN });

    // open_revs=all: leaves the user cannot read come back as removals, without their bodies.
    const byRev = (rows: Array<{ ok: { _rev: string } }>) => [...rows].sort((x, y) => x.ok._rev.localeCompare(y.ok._rev));
    const aliceRevs = await getAs('alice', '/db/conf?open_revs=all');
    expect(aliceRevs.status).toBe(200);
    expect(byRev(aliceRevs.body)).toEqual([
      { ok: { _id: 'conf', _rev: '1-aaaa', channels: ['a'], side: 'alice' } },
      { ok: { _id: 'conf', _rev: '1-bbbb', _removed: true } },
    ]);
    const bobRevs = await getAs('bob', `/db/conf?open_revs=${encodeURIComponent('["1-aaaa","1-bbbb"]')}`);
    expect(bobRevs.status).toBe(200);
    expect(byRev(bobRevs.body)).toEqual([
      { ok: { _id: 'conf', _rev: '1-aaaa', _removed: true } },
      { ok: { _id: 'conf', _rev: '1-bbbb', channels: ['b'], side: 'bob' } },
    ]);
  });

  it('lets a user who had a deleted document read its tombstone revision, and nobody else', async () => {
    const rev1 = await adminPut('tomb', { channels: ['a'] });
    const del = await request('DELETE', `${server.adminUrl}/db/tomb?rev=${rev1}`);
    expect(del.status).toBe(200);
    const rev2 = del.body.rev as string;
    const current = await getAs('alice', '/db/tomb');
    expect({ status: current.status, body: current.body }).toEqual({ status: 404, body: { error: 'not_found', reason: 'deleted' } });
    const tombstone = await getAs('alice', `/db/tomb?rev=${rev2}`);
    expect({ status: tombstone.status, body: tombstone.body }).toEqual({ status: 200, body: { _id: 'tomb', _rev: rev2, _deleted: true } });
    const stranger = await getAs('bob', `/db/tomb?rev=${rev2}`);
    expect({ status: stranger.status, body: stranger.body }).toEqual({ status: 403, body: FORBIDDEN });
  });
});

describe('attachments', () => {
  it('answers 403 outside the user`s channels and the bytes inside', async () => {
    for (const [id, channel] of [
      ['att-a', 'a'],
      ['att-b', 'b'],
    ] as const) {
      const rev = await adminPut(id, { channels: [channel] });
      const put = await request('PUT', `${server.adminUrl}/db/${id}/note.txt?rev=${rev}`, `hello ${channel}`, { 'Content-Type': 'text/plain' });
      expect(put.status).toBe(201);
    }
    const inside = await fetch(`${server.url}/db/att-a/note.txt`, { headers: as('alice') });
    expect(inside.status).toBe(200);
    expect(inside.headers.get('content-type')).toBe('text/plain');
    expect(await inside.text()).toBe('hello a');

    const outside = await getAs('alice', '/db/att-b/note.txt');
    expect({ status: outside.status, body: outside.body }).toEqual({ status: 403, body: FORBIDDEN });
    // Refused before the attachment is looked up: a missing name on an unreadable document says nothing either.
    const missingName = await getAs('alice', '/db/att-b/other.txt');
    expect({ status: missingName.status, body: missingName.body }).toEqual({ status: 403, body: FORBIDDEN });
    expect((await getAs('bob', '/db/att-b/note.txt')).body).toBe('hello b');
  });
});

describe('_all_docs', () => {
  let revs: Record<string, string>;
  const range = `startkey=${encodeURIComponent('"ad-"')}&endkey=${encodeURIComponent('"ad-~"')}`;
  const row = (id: string) => ({ id, key: id, value: { rev: revs[id]! } });

  beforeAll(async () => {
    revs = await adminBulk([
      { _id: 'ad-1', channels: ['a'], n: 1 },
      { _id: 'ad-2', channels: ['b'], n: 2 },
      { _id: 'ad-3', channels: ['a', 'b'], n: 3 },
      { _id: 'ad-4', channels: ['a2'], n: 4 },
      { _id: 'ad-5', channels: ['c'], n: 5 },
      { _id: 'ad-6', channels: ['a'], n: 6 },
      { _id: 'ad-7', n: 7 },
    ]);
  });

  it('lists only readable documents, with total_rows counting the rows returned', async () => {
    const res = await getAs('alice', `/db/_all_docs?${range}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ total_rows: 4, offset: 0, rows: ['ad-1', 'ad-3', 'ad-4', 'ad-6'].map(row) });

    const bob = await getAs('bob', `/db/_all_docs?${range}`);
    expect(bob.body).toEqual({ total_rows: 2, offset: 0, rows: ['ad-2', 'ad-3'].map(row) });
    // The admin sees everything.
    expect((await getJson(`${server.adminUrl}/db/_all_docs?${range}`)).body.rows.map((r: { id: string }) => r.id)).toEqual([
      'ad-1',
      'ad-2',
      'ad-3',
      'ad-4',
      'ad-5',
      'ad-6',
      'ad-7',
    ]);
  });

  it('includes the bodies of readable documents only', async () => {
    const res = await getAs('alice', `/db/_all_docs?${range}&include_docs=true`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      total_rows: 4,
      offset: 0,
      rows: [
        { ...row('ad-1'), doc: { _id: 'ad-1', _rev: revs['ad-1'], channels: ['a'], n: 1 } },
        { ...row('ad-3'), doc: { _id: 'ad-3', _rev: revs['ad-3'], channels: ['a', 'b'], n: 3 } },
        { ...row('ad-4'), doc: { _id: 'ad-4', _rev: revs['ad-4'], channels: ['a2'], n: 4 } },
        { ...row('ad-6'), doc: { _id: 'ad-6', _rev: revs['ad-6'], channels: ['a'], n: 6 } },
      ],
    });
  });

  it('pages with limit and skip over the readable documents only', async () => {
    const page = await getAs('alice', `/db/_all_docs?${range}&limit=2&skip=1`);
    expect(page.status).toBe(200);
    expect(page.body).toEqual({ total_rows: 2, offset: 1, rows: ['ad-3', 'ad-4'].map(row) });
    const last = await getAs('alice', `/db/_all_docs?${range}&skip=3`);
    expect(last.body).toEqual({ total_rows: 1, offset: 3, rows: [row('ad-6')] });
    const first = await getAs('alice', `/db/_all_docs?${range}&limit=1`);
    expect(first.body).toEqual({ total_rows: 1, offset: 0, rows: [row('ad-1')] });
  });

  it('answers requested keys the user cannot read as not_found, on POST and GET', async () => {
    const keys = ['ad-1', 'ad-2', 'ad-missing', 'ad-4', 'ad-7'];
    const expected = [row('ad-1'), { key: 'ad-2', error: 'not_found' }, { key: 'ad-missing', error: 'not_found' }, row('ad-4'), { key: 'ad-7', error: 'not_found' }];
    const post = await pub('alice', 'POST', '/db/_all_docs', { keys });
    expect(post.status).toBe(200);
    expect(post.body.rows).toEqual(expected);
    const get = await getAs('alice', `/db/_all_docs?keys=${encodeURIComponent(JSON.stringify(keys))}`);
    expect(get.status).toBe(200);
    expect(get.body.rows).toEqual(expected);

    const withDocs = await pub('alice', 'POST', '/db/_all_docs?include_docs=true', { keys: ['ad-2', 'ad-3'] });
    expect(withDocs.body.rows).toEqual([
      { key: 'ad-2', error: 'not_found' },
      { ...row('ad-3'), doc: { _id: 'ad-3', _rev: revs['ad-3'], channels: ['a', 'b'], n: 3 } },
    ]);
  });

  // BUG (packages/server/src/db/all-docs.ts, allDocs): with `keys`, a user's total_rows is
  // collection.countLive() — every live document in the database, readable or not — instead of the number of
  // rows returned (Sync Gateway counts the rows it writes; the function's own comment says so). It leaks the
  // size of the database to users. `it.fails` until that is fixed.
  it('counts total_rows of a keys request as the rows returned, not the database`s size', async () => {
    const keys = ['ad-1', 'ad-2', 'ad-missing', 'ad-4', 'ad-7'];
    const post = await pub('alice', 'POST', '/db/_all_docs', { keys });
    expect(post.body.total_rows).toBe(post.body.rows.length);
  });
});

describe('_bulk_get', () => {
  it('returns readable documents and a 403 error entry for the others', async () => {
    const revs = await adminBulk([
      { _id: 'bg-a', channels: ['a'], n: 1 },
      { _id: 'bg-b', channels: ['b'], n: 2 },
    ]);
    await adminPut('bg-conf', { _rev: '1-aaaa', channels: ['a'] }, '?new_edits=false');
    await adminPut('bg-conf', { _rev: '1-bbbb', channels: ['b'] }, '?new_edits=false');
    const res = await pub('alice', 'POST', '/db/_bulk_get', {
      docs: [
        { id: 'bg-a' },
        { id: 'bg-b', rev: revs['bg-b'] },
        { id: 'bg-a', rev: revs['bg-a'] },
        { id: 'bg-conf', rev: '1-aaaa' },
        { id: 'bg-conf', rev: '1-bbbb' },
        { id: 'bg-missing', rev: '1-abcd' },
      ],
    });
    expect(res.status).toBe(200);
    const forbiddenEntry = (id: string, rev: string) => ({ id, docs: [{ error: { id, rev, error: 'forbidden', reason: 'forbidden', status: 403 } }] });
    expect(res.body).toEqual({
      results: [
        { id: 'bg-a', docs: [{ ok: { _id: 'bg-a', _rev: revs['bg-a'], channels: ['a'], n: 1 } }] },
        forbiddenEntry('bg-b', revs['bg-b']!),
        { id: 'bg-a', docs: [{ ok: { _id: 'bg-a', _rev: revs['bg-a'], channels: ['a'], n: 1 } }] },
        { id: 'bg-conf', docs: [{ ok: { _id: 'bg-conf', _rev: '1-aaaa', channels: ['a'] } }] },
        forbiddenEntry('bg-conf', '1-bbbb'),
        { id: 'bg-missing', docs: [{ error: { id: 'bg-missing', rev: '1-abcd', error: 'not_found', reason: 'missing', status: 404 } }] },
      ],
    });
    // Without a rev, the unreadable document is refused all the same.
    const noRev = await pub('alice', 'POST', '/db/_bulk_get', { docs: [{ id: 'bg-b' }] });
    expect(noRev.body.results[0].docs[0].error).toMatchObject({ id: 'bg-b', error: 'forbidden', status: 403 });
  });
});

describe('_revs_diff', () => {
  it('reports every revision of an unreadable document as missing, without possible_ancestors', async () => {
    const revs = await adminBulk([
      { _id: 'rd-a', channels: ['a'] },
      { _id: 'rd-b', channels: ['b'] },
    ]);
    const ask = { 'rd-a': [revs['rd-a']!, '2-ffff'], 'rd-b': [revs['rd-b']!, '2-ffff'], 'rd-new': ['1-abcd'] };
    const alice = await pub('alice', 'POST', '/db/_revs_diff', ask);
    expect(alice.status).toBe(200);
    expect(alice.body).toEqual({
      'rd-a': { missing: ['2-ffff'], possible_ancestors: [revs['rd-a']] },
      'rd-b': { missing: [revs['rd-b'], '2-ffff'] },
      'rd-new': { missing: ['1-abcd'] },
    });
    // For bob, who reads rd-b, it is the other way round.
    const bob = await pub('bob', 'POST', '/db/_revs_diff', ask);
    expect(bob.body).toEqual({
      'rd-a': { missing: [revs['rd-a'], '2-ffff'] },
      'rd-b': { missing: ['2-ffff'], possible_ancestors: [revs['rd-b']] },
      'rd-new': { missing: ['1-abcd'] },
    });
    // A readable document with nothing missing is left out.
    expect((await pub('alice', 'POST', '/db/_revs_diff', { 'rd-a': [revs['rd-a']!] })).body).toEqual({});
  });
});

describe('_changes for a user', () => {
  it('lists only readable documents, with bodies only for them', async () => {
    const since = await nowSeq();
    const revs = await adminBulk([
      { _id: 'chg-a', channels: ['a'] },
      { _id: 'chg-b', channels: ['b'] },
      { _id: 'chg-ab', channels: ['a', 'b'] },
      { _id: 'chg-a2', channels: ['a2'] },
      { _id: 'chg-none' },
    ]);
    const seqs = await adminSeqs(Object.keys(revs));
    const entry = (id: string, channels: string[]) => ({
      seq: seqs[id],
      id,
      changes: [{ rev: revs[id] }],
      doc: { _id: id, _rev: revs[id], channels },
    });
    const res = await getAs('alice', `/db/_changes?since=${since}&include_docs=true`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      results: [entry('chg-a', ['a']), entry('chg-ab', ['a', 'b']), entry('chg-a2', ['a2'])],
      last_seq: seqs['chg-none'],
    });
    const bob = await getAs('bob', `/db/_changes?since=${since}`);
    expect(bob.body.results.map((r: Change) => r.id)).toEqual(['chg-b', 'chg-ab']);
  });

  it('narrows with filter=sync_gateway/bychannel and never widens', async () => {
    const since = await nowSeq();
    const revs = await adminBulk([
      { _id: 'bc-a', channels: ['a'] },
      { _id: 'bc-b', channels: ['b'] },
      { _id: 'bc-ab', channels: ['a', 'b'] },
      { _id: 'bc-a2', channels: ['a2'] },
    ]);
    const seqs = await adminSeqs(Object.keys(revs));
    const entry = (id: string) => ({ seq: seqs[id], id, changes: [{ rev: revs[id] }] });
    const byChannel = async (channels: string) => {
      const res = await getAs<{ results: Change[] }>('alice', `/db/_changes?since=${since}&filter=sync_gateway/bychannel&channels=${channels}`);
      expect(res.status).toBe(200);
      return res.body.results;
    };
    expect(await byChannel('a')).toEqual([entry('bc-a'), entry('bc-ab')]);
    expect(await byChannel('a2')).toEqual([entry('bc-a2')]);
    // A channel alice lacks gives nothing, alone or beside one she has.
    expect(await byChannel('b')).toEqual([]);
    expect(await byChannel('a,b')).toEqual([entry('bc-a'), entry('bc-ab')]);
    expect(await byChannel(encodeURIComponent('["b","c"]'))).toEqual([]);
    // POST takes the same parameters in the body.
    const post = await pub('alice', 'POST', '/db/_changes', { since, filter: 'sync_gateway/bychannel', channels: 'b,a2' });
    expect(post.body.results).toEqual([entry('bc-a2')]);
  });

  it('answers 400 to filter=sync_gateway/bychannel without channels', async () => {
    const expected = { status: 400, body: { error: 'bad_request', reason: "Missing 'channels' filter parameter" } };
    for (const query of ['filter=sync_gateway/bychannel', 'filter=sync_gateway/bychannel&channels=']) {
      const res = await getAs('alice', `/db/_changes?${query}`);
      expect({ query, status: res.status, body: res.body }).toEqual({ query, ...expected });
    }
  });

  it('announces a document that left the user`s channel as a removal; active_only hides it', async () => {
    const rev1 = await adminPut('mv', { channels: ['a'] });
    const since = await nowSeq();
    const rev2 = await adminPut('mv', { _rev: rev1, channels: ['b'] });
    const { mv: seq } = await adminSeqs(['mv']);
    const removal = { seq, id: 'mv', changes: [{ rev: rev2 }], removed: ['a'] };

    const plainFeed = await getAs('alice', `/db/_changes?since=${since}`);
    expect(plainFeed.status).toBe(200);
    expect(plainFeed.body).toEqual({ results: [removal], last_seq: seq });
    const withDocs = await getAs('alice', `/db/_changes?since=${since}&include_docs=true`);
    expect(withDocs.body.results).toEqual([{ ...removal, doc: { _id: 'mv', _rev: rev2, _removed: true } }]);
    const filtered = await getAs('alice', `/db/_changes?since=${since}&filter=sync_gateway/bychannel&channels=a`);
    expect(filtered.body.results).toEqual([removal]);
    const active = await getAs('alice', `/db/_changes?since=${since}&active_only=true`);
    expect(active.body).toEqual({ results: [], last_seq: seq });
    // bob, who gained it, sees it as an ordinary change; alice can no longer read it.
    expect((await getAs('bob', `/db/_changes?since=${since}`)).body.results).toEqual([{ seq, id: 'mv', changes: [{ rev: rev2 }] }]);
    expect((await getAs('alice', '/db/mv')).status).toBe(403);
  });

  it('announces the deletion of a document in the user`s channel to a client that had it', async () => {
    const rev1 = await adminPut('gone', { channels: ['a'] });
    const since = await nowSeq();
    const del = await request('DELETE', `${server.adminUrl}/db/gone?rev=${rev1}`);
    expect(del.status).toBe(200);
    const rev2 = del.body.rev as string;
    const { gone: seq } = await adminSeqs(['gone']);
    const deletion = { seq, id: 'gone', changes: [{ rev: rev2 }], deleted: true, removed: ['a'] };

    const feed = await getAs('alice', `/db/_changes?since=${since}`);
    expect(feed.status).toBe(200);
    expect(feed.body).toEqual({ results: [deletion], last_seq: seq });
    const withDocs = await getAs('alice', `/db/_changes?since=${since}&include_docs=true`);
    expect(withDocs.body.results).toEqual([{ ...deletion, doc: { _id: 'gone', _rev: rev2, _removed: true } }]);
    expect((await getAs('alice', `/db/_changes?since=${since}&active_only=true`)).body.results).toEqual([]);
    // bob never had it: nothing to tell him.
    expect((await getAs('bob', `/db/_changes?since=${since}`)).body.results).toEqual([]);
  });
});

describe('live feeds and new grants', () => {
  it('wakes a longpoll when a document grants a channel, backfilling its older documents at "T:S"', async () => {
    const revs = await adminBulk([
      { _id: 'lp-old-1', channels: ['lp-new'] },
      { _id: 'lp-old-2', channels: ['lp-new'] },
      { _id: 'lp-other', channels: ['elsewhere'] },
    ]);
    const seqs = await adminSeqs(Object.keys(revs));
    expect((await getAs('lp', '/db/lp-old-1')).status).toBe(403);

    const pending = getAs<{ results: Change[]; last_seq: number | string }>('lp', '/db/_changes?feed=longpoll&since=now&timeout=30000');
    await eventually(async () => (await liveFeeds()) === 1);
    await adminPut('membership-lp', { type: 'membership', user: 'lp', channel: 'lp-new' });
    const { 'membership-lp': grant } = await adminSeqs(['membership-lp']);

    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      results: [
        { seq: `${grant}:${seqs['lp-old-1']}`, id: 'lp-old-1', changes: [{ rev: revs['lp-old-1'] }] },
        { seq: `${grant}:${seqs['lp-old-2']}`, id: 'lp-old-2', changes: [{ rev: revs['lp-old-2'] }] },
      ],
      last_seq: grant,
    });
    expect((await getAs('lp', '/db/lp-old-1')).status).toBe(200);
    await noLiveFeeds();

    // Resuming from a compound position mid-way through the backfill gives the rest of it.
    const resumed = await getAs('lp', `/db/_changes?since=${grant}:${seqs['lp-old-1']}`);
    expect(resumed.body.results.map((r: Change) => r.id)).toEqual(['lp-old-2']);
  });

  it('streams the backfill of a granted channel on a continuous feed, then later documents', async () => {
    const revs = await adminBulk([
      { _id: 'cont-old-1', channels: ['cont-new'] },
      { _id: 'cont-old-2', channels: ['cont-new'] },
    ]);
    const seqs = await adminSeqs(Object.keys(revs));
    // No heartbeat: the response headers must come at once, before any change (fetch resolves on them).
    const feed = await openContinuous('cont', 'since=now');
    try {
      expect(feed.status).toBe(200);
      await eventually(async () => (await liveFeeds()) === 1);
      await adminPut('membership-cont', { type: 'membership', user: 'cont', channel: 'cont-new' });
      const { 'membership-cont': grant } = await adminSeqs(['membership-cont']);
      await eventually(async () => feed.lines.length >= 2);
      const newRev = await adminPut('cont-later', { channels: ['cont-new'] });
      const { 'cont-later': later } = await adminSeqs(['cont-later']);
      await eventually(async () => feed.lines.length >= 3);
      expect(feed.lines).toEqual([
        { seq: `${grant}:${seqs['cont-old-1']}`, id: 'cont-old-1', changes: [{ rev: revs['cont-old-1'] }] },
        { seq: `${grant}:${seqs['cont-old-2']}`, id: 'cont-old-2', changes: [{ rev: revs['cont-old-2'] }] },
        { seq: later, id: 'cont-later', changes: [{ rev: newRev }] },
      ]);
    } finally {
      await feed.close();
    }
    await noLiveFeeds();
  });

  it('backfills the channels of a role granted by a document (role())', async () => {
    const revs = await adminBulk([
      { _id: 'red-old-1', channels: ['red-ch'] },
      { _id: 'red-old-2', channels: ['red-ch'] },
    ]);
    const seqs = await adminSeqs(Object.keys(revs));
    expect((await getAs('rolly', '/db/red-old-1')).status).toBe(403);

    const pending = getAs<{ results: Change[]; last_seq: number | string }>('rolly', '/db/_changes?feed=longpoll&since=now&timeout=30000');
    await eventually(async () => (await liveFeeds()) === 1);
    await adminPut('team-rolly', { type: 'team', user: 'rolly', team: 'red' });
    const { 'team-rolly': grant } = await adminSeqs(['team-rolly']);

    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      results: [
        { seq: `${grant}:${seqs['red-old-1']}`, id: 'red-old-1', changes: [{ rev: revs['red-old-1'] }] },
        { seq: `${grant}:${seqs['red-old-2']}`, id: 'red-old-2', changes: [{ rev: revs['red-old-2'] }] },
      ],
      last_seq: grant,
    });
    expect((await getAs('rolly', '/db/red-old-1')).status).toBe(200);
    const user = await getJson(`${server.adminUrl}/db/_user/rolly`);
    expect(user.body).toMatchObject({ roles: ['red'], all_channels: ['!', 'red-ch', 'rolly-own'] });
    await noLiveFeeds();
  });

  it('backfills a channel added to admin_channels through the admin API', async () => {
    const revs = await adminBulk([
      { _id: 'adm-old-1', channels: ['adm-new'] },
      { _id: 'adm-old-2', channels: ['adm-new'] },
    ]);
    const seqs = await adminSeqs(Object.keys(revs));
    const before = await nowSeq();

    const pending = getAs<{ results: Change[]; last_seq: number }>('adm', '/db/_changes?feed=longpoll&since=now&timeout=30000');
    await eventually(async () => (await liveFeeds()) === 1);
    const put = await request('PUT', `${server.adminUrl}/db/_user/adm`, { admin_channels: ['adm-own', 'adm-new'] });
    expect(put.status).toBe(200);

    const res = await pending;
    expect(res.status).toBe(200);
    // The grant's sequence is the user record's; nothing else was written meanwhile.
    const grant = res.body.last_seq;
    expect(grant).toBeGreaterThan(before);
    expect(res.body.results).toEqual([
      { seq: `${grant}:${seqs['adm-old-1']}`, id: 'adm-old-1', changes: [{ rev: revs['adm-old-1'] }] },
      { seq: `${grant}:${seqs['adm-old-2']}`, id: 'adm-old-2', changes: [{ rev: revs['adm-old-2'] }] },
    ]);
    // The password is kept by a PUT without one.
    expect((await getAs('adm', '/db/adm-old-2')).status).toBe(200);
    await noLiveFeeds();
  });
});

describe('grants to users that do not exist yet', () => {
  it('apply once the user is created', async () => {
    await adminPut('carol-doc-1', { channels: ['carol-x'] });
    await adminPut('membership-carol', { type: 'membership', user: 'carol', channel: 'carol-x' });
    await adminPut('carol-doc-2', { channels: ['carol-x'] });
    await adminPut('carol-other', { channels: ['carol-y'] });
    expect((await getJson(`${server.adminUrl}/db/_user/carol`)).status).toBe(404);

    const created = await request('PUT', `${server.adminUrl}/db/_user/carol`, { password: PASSWORDS.carol });
    expect(created.status).toBe(201);
    const user = await getJson(`${server.adminUrl}/db/_user/carol`);
    expect(user.status).toBe(200);
    expect(user.body).toEqual({ name: 'carol', disabled: false, admin_channels: [], admin_roles: [], all_channels: ['!', 'carol-x'], roles: [] });

    const feed = await getAs('carol', '/db/_changes');
    expect(feed.status).toBe(200);
    expect(feed.body.results.map((r: Change) => r.id)).toEqual(['carol-doc-1', 'carol-doc-2']);
    expect((await getAs('carol', '/db/carol-doc-1')).status).toBe(200);
    expect((await getAs('carol', '/db/carol-other')).status).toBe(403);
  });
});

describe('GUEST', () => {
  it('reads only its admin_channels without credentials while enabled, and gets 401 when disabled', async () => {
    await adminBulk(
      [
        { _id: 'pub-1', channels: ['public'] },
        { _id: 'priv-1', channels: ['private'] },
        { _id: 'both-1', channels: ['public', 'private'] },
      ],
      'open',
    );
    const feed = await getAs(null, '/open/_changes');
    expect(feed.status).toBe(200);
    expect(feed.body.results.map((r: Change) => r.id)).toEqual(['pub-1', 'both-1']);
    expect((await getAs(null, '/open/pub-1')).status).toBe(200);
    const priv = await getAs(null, '/open/priv-1');
    expect({ status: priv.status, body: priv.body }).toEqual({ status: 403, body: FORBIDDEN });

    // "db" declares users and leaves GUEST disabled.
    const closed = await getAs(null, '/db/_changes');
    expect({ status: closed.status, body: closed.body }).toEqual({ status: 401, body: { error: 'Unauthorized', reason: 'Login required' } });

    expect((await request('PUT', `${server.adminUrl}/open/_user/GUEST`, { disabled: true })).status).toBe(200);
    const disabled = await getAs(null, '/open/_changes');
    expect({ status: disabled.status, body: disabled.body }).toEqual({ status: 401, body: { error: 'Unauthorized', reason: 'Login required' } });
  });
});

describe('requireAccess in the sync function', () => {
  it('rejects a user`s write with 403 and accepts the same write on the admin API', async () => {
    const refused = await pub('alice', 'PUT', '/db/ra-1', { needs: 'b', channels: ['a'] });
    expect({ status: refused.status, body: refused.body }).toEqual({ status: 403, body: { error: 'forbidden', reason: 'sg missing channel access' } });
    expect((await getJson(`${server.adminUrl}/db/ra-1`)).status).toBe(404);

    const allowed = await pub('alice', 'PUT', '/db/ra-2', { needs: 'a2', channels: ['a'] });
    expect(allowed.status).toBe(201);
    const bulk = await pub('alice', 'POST', '/db/_bulk_docs', { docs: [{ _id: 'ra-3', needs: ['b', 'c'] }] });
    expect(bulk.body).toEqual([{ id: 'ra-3', error: 'forbidden', reason: 'sg missing channel access', status: 403 }]);

    const admin = await request('PUT', `${server.adminUrl}/db/ra-1`, { needs: 'b', channels: ['a'] });
    expect(admin.status).toBe(201);
    expect((await getAs('alice', '/db/ra-1')).body).toEqual({ _id: 'ra-1', _rev: admin.body.rev, needs: 'b', channels: ['a'] });
  });
});
