/**
 * Import of direct writes, end to end: a real server process with a sync function and an import filter, and a
 * server app in another process writing the documents table with its own SQLite connection.
 */
import { join } from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAppJob, type AppOp } from '../support/app-writer.ts';
import { memoryPouch, PouchDB } from '../support/pouch.ts';
import { eventually, getJson, postJson, putJson, request, basicAuth } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc, oldDoc) {
  if (!doc._deleted) channel('c-' + doc.color);
}`;
const IMPORT_FILTER = `function (doc) { return doc.type !== 'server'; }`;
const COLORS = ['blue', 'green', 'red'] as const;
const USERS = { alice: { password: 'alicepass', color: 'blue' }, bob: { password: 'bobpass', color: 'green' } } as const;

interface Change {
  seq: number | string;
  id: string;
  changes: Array<{ rev: string }>;
  deleted?: boolean;
  removed?: string[];
}

interface FeedDoc {
  rev: string;
  deleted: boolean;
}

const generation = (rev: string): number => Number(rev.split('-')[0]);
const sorted = (ids: Iterable<string>): string[] => [...ids].sort();

let server: TestServer;
const dbUrl = () => `${server.adminUrl}/db`;
const miscUrl = () => `${server.adminUrl}/misc`;
const dbFile = (name: string) => join(server.dir, `${name}.sqlite`);

beforeAll(async () => {
  server = await startTestServer({
    logLevel: 'warn',
    databases: {
      db: {
        sync: SYNC,
        import_filter: IMPORT_FILTER,
        users: Object.fromEntries(Object.entries(USERS).map(([name, u]) => [name, { password: u.password, admin_channels: [`c-${u.color}`] }])),
      },
      misc: { sync: SYNC, import_filter: IMPORT_FILTER, max_document_size: 2048 },
    },
  });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

/** The admin `_changes` feed followed incrementally: the current revision of every document it has listed. */
class FeedFollower {
  readonly docs = new Map<string, FeedDoc>();
  #since: number | string = 0;

  constructor(readonly url: string) {}

  async poll(): Promise<void> {
    const res = await getJson<{ results: Change[]; last_seq: number | string }>(`${this.url}/_changes?since=${this.#since}`);
    expect(res.status).toBe(200);
    for (const c of res.body.results) this.docs.set(c.id, { rev: c.changes[0]!.rev, deleted: c.deleted === true });
    this.#since = res.body.last_seq;
  }

  /** Polls until every expected document is listed with the expected generation and deletion flag. */
  async waitFor(expected: ReadonlyMap<string, { generation: number; deleted: boolean }>): Promise<void> {
    await eventually(async () => {
      await this.poll();
      for (const [id, want] of expected) {
        const got = this.docs.get(id);
        if (!got || generation(got.rev) !== want.generation || got.deleted !== want.deleted) return false;
      }
      return true;
    }, 40_000, 100);
  }
}

async function fullFeed(url: string, headers: Record<string, string> = {}): Promise<Change[]> {
  const res = await request<{ results: Change[] }>('GET', `${url}/_changes?since=0`, undefined, headers);
  expect(res.status).toBe(200);
  return res.body.results;
}

function readRows(file: string, like: string): Map<string, string> {
  const conn = new BetterSqlite(file, { readonly: true, timeout: 10_000 });
  try {
    const rows = conn.prepare<[string], { id: string; body: string }>('SELECT id, body FROM documents WHERE id LIKE ?').all(like);
    return new Map(rows.map((r) => [r.id, r.body]));
  } finally {
    conn.close();
  }
}

/** Entries of the mutation log not yet processed (and trimmed) by the import worker. */
function pendingMutations(file: string): number {
  const conn = new BetterSqlite(file, { readonly: true, timeout: 10_000 });
  try {
    return conn.prepare<[], number>('SELECT count(*) FROM mutations').pluck().get() ?? -1;
  } finally {
    conn.close();
  }
}

function remoteAs(name: keyof typeof USERS): PouchDB.Database {
  return new PouchDB(`${server.url}/db`, { auth: { username: name, password: USERS[name].password } } as any);
}

async function expectNotImported(url: string, id: string, headers: Record<string, string> = {}): Promise<void> {
  const res = await request('GET', `${url}/${encodeURIComponent(id)}`, undefined, headers);
  expect({ id, status: res.status, body: res.body }).toEqual({ id, status: 404, body: { error: 'not_found', reason: 'Not imported' } });
}

describe('import of direct writes (a separate app process writing the documents table)', () => {
  it('imports inserts, updates and deletes as one revision per write, routes them through the sync function, and never rewrites the rows', async () => {
    const N = 10_000;
    const id = (i: number) => `a-${String(i).padStart(5, '0')}`;
    const color = (i: number) => COLORS[i % 3]!;
    const type = (i: number) => (i % 10 === 7 ? 'server' : 'note');
    // Unusual whitespace, key order, number forms and escapes: a rewrite of the row would show.
    const insertBody = (i: number) =>
      `{ "z" : [1, 2.50, {"b": 1, "a": 2}],\n\t"type":"${type(i)}" ,  "n": ${i}, "color": "${color(i)}", "s": "caf\\u00e9"   }`;
    const updateBody = (i: number) => `{"color":"${color(i)}","n":${i},"type":"${type(i)}","v":2,"e":1e2}\n`;

    const all = Array.from({ length: N }, (_, i) => i);
    const accepted = all.filter((i) => type(i) !== 'server');
    const filtered = all.filter((i) => type(i) === 'server');
    const updated = accepted.filter((_, k) => k % 9 < 2);
    const deleted = accepted.filter((_, k) => k % 2 === 0 && (k % 9 === 0 || k % 9 === 2));
    expect([accepted.length, filtered.length, updated.length, deleted.length]).toEqual([9_000, 1_000, 2_000, 1_000]);
    const updatedSet = new Set(updated);
    const deletedSet = new Set(deleted);

    const rows = new Map<string, string>();
    const chunk = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, k) => items.slice(k * size, (k + 1) * size));
    const feed = new FeedFollower(dbUrl());

    // 1. Inserts, in transactions of 500.
    await runAppJob({ file: dbFile('db'), transactions: chunk(all.map((i): AppOp => ({ op: 'insert', id: id(i), body: insertBody(i) })), 500) });
    for (const i of all) rows.set(id(i), insertBody(i));
    await feed.waitFor(new Map(accepted.map((i) => [id(i), { generation: 1, deleted: false }])));

    // 2. Updates of 2,000 of them, half with UPDATE and half with an upsert.
    await runAppJob({
      file: dbFile('db'),
      transactions: chunk(updated.map((i, k): AppOp => ({ op: k % 2 === 0 ? 'update' : 'upsert', id: id(i), body: updateBody(i) })), 500),
    });
    for (const i of updated) rows.set(id(i), updateBody(i));
    await feed.waitFor(new Map(updated.map((i) => [id(i), { generation: 2, deleted: false }])));

    // 3. Deletes of 1,000: half of them updated before (three writes), half not (two writes).
    await runAppJob({ file: dbFile('db'), transactions: chunk(deleted.map((i): AppOp => ({ op: 'delete', id: id(i) })), 500) });
    for (const i of deleted) rows.delete(id(i));
    const expected = new Map(
      accepted.map((i) => [id(i), { generation: 1 + Number(updatedSet.has(i)) + Number(deletedSet.has(i)), deleted: deletedSet.has(i) }]),
    );
    await feed.waitFor(expected);

    // Every accepted document: exactly one revision per app write, the deleted ones as tombstones.
    const adminFeed = await fullFeed(dbUrl());
    const listed = adminFeed.filter((c) => c.id.startsWith('a-'));
    expect(listed.length).toBe(accepted.length);
    const actual = new Map(listed.map((c) => [c.id, { generation: generation(c.changes[0]!.rev), deleted: c.deleted === true }]));
    expect(actual).toEqual(expected);

    // Histories have no gaps, and the live revisions' bodies are the rows' JSON.
    const live = accepted.filter((i) => !deletedSet.has(i));
    const bulk = await postJson<{ results: Array<{ id: string; docs: Array<{ ok?: Record<string, any> }> }> }>(`${dbUrl()}/_bulk_get?revs=true`, {
      docs: [...live.map((i) => ({ id: id(i) })), ...deleted.map((i) => ({ id: id(i), rev: feed.docs.get(id(i))!.rev }))],
    });
    expect(bulk.status).toBe(200);
    const problems: string[] = [];
    for (const result of bulk.body.results) {
      const doc = result.docs[0]?.ok;
      const want = expected.get(result.id)!;
      if (!doc) {
        problems.push(`${result.id}: ${JSON.stringify(result.docs)}`);
        continue;
      }
      const { _id, _rev, _revisions, _deleted, ...body } = doc;
      if (_revisions.start !== want.generation || _revisions.ids.length !== want.generation) problems.push(`${_id}: history ${JSON.stringify(_revisions)}`);
      if ((_deleted === true) !== want.deleted) problems.push(`${_id}: _deleted ${String(_deleted)}`);
      const row = rows.get(result.id);
      if (row !== undefined && JSON.stringify(body) !== JSON.stringify(JSON.parse(row))) problems.push(`${_id}: body ${JSON.stringify(body)} ${_rev}`);
    }
    expect(problems).toEqual([]);

    // Documents the import filter refuses are nowhere.
    const filteredIds = new Set(filtered.map(id));
    expect(adminFeed.filter((c) => filteredIds.has(c.id))).toEqual([]);
    const allDocs = await getJson<{ rows: Array<{ id: string; value: { rev: string } }> }>(`${dbUrl()}/_all_docs`);
    expect(allDocs.status).toBe(200);
    expect(sorted(allDocs.body.rows.map((r) => r.id).filter((x) => x.startsWith('a-')))).toEqual(sorted(live.map(id)));
    for (const i of filtered.slice(0, 5)) await expectNotImported(dbUrl(), id(i));
    await expectNotImported(`${server.url}/db`, id(filtered[0]!), basicAuth('alice', USERS.alice.password));

    // Each user's feed and PouchDB pull hold exactly the documents of its channel.
    for (const name of ['alice', 'bob'] as const) {
      const { password, color: mine } = USERS[name];
      const inChannel = accepted.filter((i) => color(i) === mine);
      const liveInChannel = inChannel.filter((i) => !deletedSet.has(i)).map(id);
      const entries = (await fullFeed(`${server.url}/db`, basicAuth(name, password))).filter((c) => !c.id.startsWith('_user/'));
      const mineIds = new Set(inChannel.map(id));
      expect(entries.filter((c) => !mineIds.has(c.id))).toEqual([]);
      expect(sorted(entries.filter((c) => !c.deleted && !c.removed).map((c) => c.id))).toEqual(sorted(liveInChannel));
      for (const c of entries.filter((e) => !e.deleted && !e.removed)) expect(c.changes[0]!.rev).toBe(feed.docs.get(c.id)!.rev);
      // An imported deletion reaches the users of the channel the document was in.
      expect(sorted(entries.filter((c) => c.deleted).map((c) => c.id))).toEqual(sorted(inChannel.filter((i) => deletedSet.has(i)).map(id)));

      const local = memoryPouch(name);
      const result = await local.replicate.from(remoteAs(name));
      expect(result.ok).toBe(true);
      const pulled = (await local.allDocs()).rows;
      expect(sorted(pulled.map((r) => r.id))).toEqual(sorted(liveInChannel));
      expect(pulled.filter((r) => r.value.rev !== feed.docs.get(r.id)!.rev)).toEqual([]);
      await local.destroy();
    }

    // The app's rows are exactly what it wrote.
    expect(readRows(dbFile('db'), 'a-%')).toEqual(rows);
  });

  it('writes documents pushed by PouchDB to the documents table and does not import them again', async () => {
    const local = memoryPouch('pusher');
    const docs = Array.from({ length: 50 }, (_, i) => ({ _id: `push-${i}`, color: 'blue', n: i, nested: { list: [i, 'x'], flag: i % 2 === 0 } }));
    await local.bulkDocs(docs);
    const result = await local.replicate.to(new PouchDB(`${server.adminUrl}/misc`));
    expect(result.ok).toBe(true);
    expect(result.docs_written).toBe(50);

    const stored = readRows(dbFile('misc'), 'push-%');
    expect(stored.size).toBe(50);
    for (const { _id, ...body } of docs) expect(JSON.parse(stored.get(_id)!)).toEqual(body);

    // Once the import worker has processed its mutation log (trimming it), nothing was imported on top.
    await eventually(async () => pendingMutations(dbFile('misc')) === 0);
    const bulk = await postJson<{ results: Array<{ id: string; docs: Array<{ ok?: { _revisions: { start: number; ids: string[] } } }> }> }>(
      `${miscUrl()}/_bulk_get?revs=true`,
      { docs: docs.map((d) => ({ id: d._id })) },
    );
    expect(bulk.status).toBe(200);
    expect(bulk.body.results.map((r) => [r.id, r.docs[0]?.ok?._revisions.start, r.docs[0]?.ok?._revisions.ids.length])).toEqual(docs.map((d) => [d._id, 1, 1]));
    const feed = (await fullFeed(miscUrl())).filter((c) => c.id.startsWith('push-'));
    expect(feed.map((c) => generation(c.changes[0]!.rev))).toEqual(docs.map(() => 1));
    await local.destroy();
  });

  it('skips bodies that cannot be documents, logging an Import warning, and imports good documents written after them', async () => {
    const bad: Record<string, string> = {
      'bad-json': '{"a": 1,',
      'bad-array': '[1, 2, 3]',
      'bad-string': '"just text"',
      'bad-big': JSON.stringify({ big: 'x'.repeat(5000) }),
      'bad-id': '{"_id": "bad-id", "a": 1}',
      'bad-rev': '{"a": 1, "_rev": "1-abc"}',
    };
    const good = Array.from({ length: 5 }, (_, i) => [`good-${i}`, `{"color":"blue","n":${i}}`] as const);
    await runAppJob({
      file: dbFile('misc'),
      transactions: [Object.entries(bad).map(([id, body]): AppOp => ({ op: 'insert', id, body })), good.map(([id, body]): AppOp => ({ op: 'insert', id, body }))],
    });
    await new FeedFollower(miscUrl()).waitFor(new Map(good.map(([id]) => [id, { generation: 1, deleted: false }])));

    // The import worker logged each one at warn level under the Import key.
    await eventually(async () => {
      const warned = new Set<string>();
      for (const line of server.output) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { level?: number; key?: string; db?: string; id?: string };
        if (entry.level === 40 && entry.key === 'Import' && entry.db === 'misc' && entry.id) warned.add(entry.id);
      }
      return Object.keys(bad).every((id) => warned.has(id));
    });

    const feed = await fullFeed(miscUrl());
    expect(feed.filter((c) => c.id in bad)).toEqual([]);
    const allDocs = await getJson<{ rows: Array<{ id: string }> }>(`${miscUrl()}/_all_docs`);
    expect(allDocs.body.rows.filter((r) => r.id in bad)).toEqual([]);
    for (const id of Object.keys(bad)) await expectNotImported(miscUrl(), id);
    // The rows stay as the app wrote them.
    expect(readRows(dbFile('misc'), 'bad-%')).toEqual(new Map(Object.entries(bad)));
  });

  it('loses no app write when a client writes a document the app keeps updating', async () => {
    const url = `${server.url}/misc/race`;
    const appBody = (n: number) => `{"by":"app","n":${n}}`;
    await runAppJob({ file: dbFile('misc'), transactions: [[{ op: 'insert', id: 'race', body: appBody(0) }]] });
    await new FeedFollower(miscUrl()).waitFor(new Map([['race', { generation: 1, deleted: false }]]));

    const LAST = 150;
    let appDone = false;
    const app = runAppJob({
      file: dbFile('misc'),
      transactions: Array.from({ length: LAST }, (_, k): AppOp[] => [{ op: 'update', id: 'race', body: appBody(k + 1) }]),
      pauseMs: 10,
    }).finally(() => (appDone = true));

    /** Revisions the client saw or made: each must be in the final history. */
    const known: Array<{ rev: string; by: string; n: number }> = [];
    const surprises: string[] = [];
    for (let c = 0; !appDone; c++) {
      const current = await getJson<{ _rev: string; by: string; n: number }>(url);
      if (current.status !== 200) {
        surprises.push(`GET ${current.status} ${JSON.stringify(current.body)}`);
        continue;
      }
      known.push({ rev: current.body._rev, by: current.body.by, n: current.body.n });
      const put = await putJson<{ rev: string }>(url, { _rev: current.body._rev, by: 'client', n: current.body.n, c });
      if (put.status === 201) known.push({ rev: put.body.rev, by: 'client', n: current.body.n });
      else if (put.status !== 409) surprises.push(`PUT ${put.status} ${JSON.stringify(put.body)}`);
    }
    await app;
    expect(surprises).toEqual([]);

    // Let the import catch up with the app's last write (a read imports on demand too).
    const final = await eventually(async () => {
      const res = await getJson<Array<{ ok?: { _rev: string; _revisions: { start: number; ids: string[] }; by: string; n: number; c?: number } }>>(
        `${url}?open_revs=all&revs=true`,
      );
      const leaves = res.body.map((r) => r.ok).filter((l) => l !== undefined);
      return res.status === 200 && leaves.length === 1 && leaves[0]!.n === LAST ? leaves[0]! : undefined;
    });
    const row = readRows(dbFile('misc'), 'race').get('race')!;
    // The app's last write, imported, or a client write made on top of it.
    if (final.by === 'app') expect(row).toBe(appBody(LAST));
    else expect(JSON.parse(row)).toMatchObject({ by: 'client', n: LAST });
    expect(JSON.parse(row)).toEqual({ by: final.by, n: final.n, ...(final.c !== undefined ? { c: final.c } : {}) });

    const history = new Set(final._revisions.ids.map((digest, k) => `${final._revisions.start - k}-${digest}`));
    expect(final._revisions.ids.length).toBe(final._revisions.start);
    expect(known.filter((k) => !history.has(k.rev))).toEqual([]);
    expect(known.some((k) => k.by === 'app' && k.n > 0)).toBe(true);
  });
});

describe('import interrupted by a crash', () => {
  it('after SIGKILL in the middle of a large import, imports every remaining document exactly once', async () => {
    const first = await startTestServer({ logLevel: 'warn' });
    let restarted: TestServer | undefined;
    try {
      const file = join(first.dir, 'db.sqlite');
      const BURST = 20_000;
      let total = 0;
      let countAtKill = -1;
      // A burst is usually caught mid-import at the first try; a faster machine may need another one.
      for (let attempt = 0; attempt < 4 && countAtKill < 0; attempt++) {
        const base = total;
        await runAppJob({ file, transactions: [Array.from({ length: BURST }, (_, i): AppOp => ({ op: 'insert', id: `k-${base + i}`, body: `{"n":${base + i}}` }))] });
        total += BURST;
        for (;;) {
          const info = await getJson<{ doc_count: number }>(`${first.adminUrl}/db/`);
          if (info.body.doc_count >= total) break;
          if (info.body.doc_count > base) {
            countAtKill = info.body.doc_count;
            break;
          }
        }
      }
      expect(countAtKill).toBeGreaterThan(0);
      await first.stop('SIGKILL');
      expect(first.process.signalCode).toBe('SIGKILL');

      restarted = await first.restart();
      const dbAt = `${restarted.adminUrl}/db`;
      await eventually(async () => (await getJson<{ doc_count: number }>(`${dbAt}/`)).body.doc_count === total, 40_000, 100);
      const feed = await fullFeed(dbAt);
      expect(feed.length).toBe(total);
      expect(new Set(feed.map((c) => c.id)).size).toBe(total);
      expect(feed.filter((c) => generation(c.changes[0]!.rev) !== 1 || c.deleted)).toEqual([]);
      const allDocs = await getJson<{ rows: Array<{ id: string; value: { rev: string } }> }>(`${dbAt}/_all_docs`);
      expect(allDocs.body.rows.length).toBe(total);
      expect(allDocs.body.rows.filter((r) => !r.value.rev.startsWith('1-'))).toEqual([]);
    } finally {
      await restarted?.[Symbol.asyncDispose]();
      await first[Symbol.asyncDispose]();
    }
  });
});
