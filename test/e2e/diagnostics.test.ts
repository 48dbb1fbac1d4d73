import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, putJson, request, basicAuth } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc, oldDoc, meta) {
  if (doc.bad) throw({forbidden: doc.bad});
  if (doc.owner) requireUser(doc.owner);
  if (doc.needs) requireAccess(doc.needs);
  if (doc.needsRole) requireRole(doc.needsRole);
  if (doc.adminOnly) requireAdmin();
  if (doc.crash) doc.nothing.here = 1;
  channel(doc.channels);
  if (doc.grantTo) access(doc.grantTo, doc.channels);
  if (doc.member) role(doc.member, 'role:' + doc.team);
  if (doc.ttl) expiry(doc.ttl);
  if (doc.echo) channel('id=' + doc._id, 'old=' + (oldDoc ? (oldDoc.channels || oldDoc._rev) : 'none'), 'deleted=' + (doc._deleted === true));
}`;

const IMPORT_FILTER = `function (doc) {
  if (doc.crash) return doc.nothing.here;
  return doc.type === 'mobile';
}`;

let server: TestServer;
const admin = (path: string) => `${server.adminUrl}/db/${path}`;
const sync = (body: unknown, query = '') => postJson(admin(`_sync${query}`), body);
const filter = (body: unknown, query = '') => postJson(admin(`_import_filter${query}`), body);

interface DbInfo {
  update_seq: number;
  doc_count: number;
}
const info = async (db = 'db'): Promise<DbInfo> => (await getJson<DbInfo>(`${server.adminUrl}/${db}/`)).body;

beforeAll(async () => {
  server = await startTestServer({
    databases: {
      db: {
        sync: SYNC,
        import_filter: IMPORT_FILTER,
        import_docs: false,
        users: { ann: { password: 'secret', admin_channels: ['a'], admin_roles: ['team'] } },
        roles: { team: { admin_channels: ['t'] } },
      },
      plain: {},
    },
  });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

describe('POST /{db}/_sync (sync function dry run)', () => {
  it('runs the database sync function on a document given in the request', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await sync({ doc: { channels: ['x', 'y'], grantTo: 'bob', member: 'bob', team: 'red', ttl: 60 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      channels: ['x', 'y'],
      access: { bob: ['x', 'y'] },
      roles: { bob: ['red'] },
      logging: { errors: [], info: [] },
      warnings: [],
    });
    expect(res.body.exception).toBeUndefined();
    expect(res.body.expiry).toBeGreaterThanOrEqual(before + 60);
    expect(res.body.expiry).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 60);
  });

  it('gives the document a default _id, a new _rev and no oldDoc', async () => {
    const res = await sync({ doc: { echo: true } });
    expect(res.body.channels).toEqual(['id=sync_dryrun', 'old=none', 'deleted=false']);
    const named = await sync({ doc: { _id: 'mine', _deleted: true, echo: true } });
    expect(named.body.channels).toEqual(['id=mine', 'old=none', 'deleted=true']);
  });

  it('reports a rejection as "STATUS reason" in exception, with no channels', async () => {
    const res = await sync({ doc: { bad: 'not here', channels: ['x'] } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ channels: [], access: {}, roles: {}, exception: '403 not here' });
    const crash = await sync({ doc: { crash: true } });
    expect(crash.status).toBe(200);
    expect(crash.body.exception).toMatch(/^500 Exception in JS sync function: TypeError/);
  });

  it('runs on a stored document by doc_id (body or query), with oldDoc null', async () => {
    const put = await putJson(admin('stored'), { channels: ['s'], echo: true });
    expect(put.status).toBe(201);
    const byBody = await sync({ doc_id: 'stored' });
    expect(byBody.status).toBe(200);
    expect(byBody.body.channels).toEqual(['s', 'id=stored', 'old=none', 'deleted=false']);
    const byQuery = await request('GET', admin('_sync?doc_id=stored'));
    expect(byQuery.status).toBe(200);
    expect(byQuery.body).toEqual(byBody.body);
  });

  it('uses the stored document as oldDoc when both doc and doc_id are given', async () => {
    await putJson(admin('replaced'), { channels: 'before' });
    const res = await sync({ doc_id: 'replaced', doc: { echo: true, channels: 'after' } });
    expect(res.body.channels).toEqual(['after', 'id=replaced', 'old=before', 'deleted=false']);
  });

  it('takes an inline oldDoc', async () => {
    const res = await sync({ doc: { echo: true }, oldDoc: { channels: 'earlier' } });
    expect(res.body.channels).toEqual(['id=sync_dryrun', 'old=earlier', 'deleted=false']);
  });

  it('runs a stored tombstone as a deletion', async () => {
    const put = await putJson(admin('gone'), { channels: ['g'] });
    const deleted = await request('DELETE', admin(`gone?rev=${put.body.rev}`));
    expect(deleted.status).toBe(200);
    const res = await sync({ doc_id: 'gone', sync_function: 'function (doc) { channel(doc._deleted ? "tomb" : "live"); }' });
    expect(res.body.channels).toEqual(['tomb']);
  });

  it('runs a custom sync function given in the request, compiled for that call', async () => {
    const res = await sync({ doc: { channels: ['ignored'] }, sync_function: 'function (doc) { channel("custom"); }' });
    expect(res.body.channels).toEqual(['custom']);
    const again = await sync({ doc: { channels: ['db'] } });
    expect(again.body.channels).toEqual(['db']);
    const builtinDefault = await sync({ doc: { channels: ['d'], bad: 'x' }, sync_function: 'function (doc) { channel(doc.channels); }' });
    expect(builtinDefault.body).toMatchObject({ channels: ['d'] });
  });

  it('refuses a custom function that does not compile with 400 and the compile error', async () => {
    const res = await sync({ doc: {}, sync_function: 'function (doc) { channel(doc.channels; }' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_request');
    expect(res.body.reason).toMatch(/^sync_function does not compile: SyntaxError at line 1/);
    const notAFunction = await sync({ doc: {}, sync_function: '42' });
    expect(notAFunction.status).toBe(400);
    expect(notAFunction.body.reason).toContain('does not evaluate to a function');
  });

  it('passes every require* call as admin by default', async () => {
    const res = await sync({ doc: { owner: 'someone', needs: 'nowhere', needsRole: 'none', adminOnly: true, channels: 'ok' } });
    expect(res.body).toMatchObject({ channels: ['ok'] });
    expect(res.body.exception).toBeUndefined();
  });

  it('evaluates require* against a userCtx given as is', async () => {
    const ctx = { name: 'carol', channels: ['c1'], roles: ['crew'] };
    expect((await sync({ doc: { owner: 'carol', needs: 'c1', needsRole: 'crew' }, userCtx: ctx })).body.exception).toBeUndefined();
    expect((await sync({ doc: { owner: 'dave' }, userCtx: ctx })).body.exception).toBe('403 sg wrong user');
    expect((await sync({ doc: { needs: 'c2' }, userCtx: ctx })).body.exception).toBe('403 sg missing channel access');
    expect((await sync({ doc: { needsRole: 'other' }, userCtx: ctx })).body.exception).toBe('403 sg missing role');
    expect((await sync({ doc: { adminOnly: true }, userCtx: ctx })).body.exception).toBe('403 sg admin required');
  });

  it('evaluates require* against an existing user`s current access with user', async () => {
    expect((await sync({ doc: { owner: 'ann', needs: 'a', needsRole: 'team' }, user: 'ann' })).body.exception).toBeUndefined();
    expect((await sync({ doc: { needs: 't' } }, '?user=ann')).body.exception).toBeUndefined();
    expect((await sync({ doc: { needs: 'b' }, user: 'ann' })).body.exception).toBe('403 sg missing channel access');
    const unknown = await sync({ doc: {}, user: 'nobody' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'not_found', reason: 'no such user "nobody"' });
  });

  it('answers bad requests with 400 and a clear reason, unknown documents with 404', async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [{}, 400, /must provide either doc_id or doc/],
      [{ oldDoc: { a: 1 } }, 400, /must provide either doc_id or doc/],
      [{ doc_id: 'stored', oldDoc: { a: 1 } }, 400, /cannot specify doc_id with a provided oldDoc/],
      [{ doc: 'text' }, 400, /doc must be a JSON object/],
      [{ doc: [1] }, 400, /doc must be a JSON object/],
      [{ doc: { _sync: {} } }, 400, /_sync/],
      [{ doc: { _rev: 'nonsense' } }, 400, /Invalid rev/],
      [{ doc: {}, doc_id: 42 }, 400, /doc_id must be a string/],
      [{ doc: {}, sync_function: 7 }, 400, /sync_function must be a string/],
      [{ doc: {}, userCtx: { roles: ['r'] } }, 400, /no user name provided/],
      [{ doc: {}, userCtx: { name: 'x', channels: 'c' } }, 400, /userCtx.channels must be an array of strings/],
      [{ doc: {}, userCtx: { name: 'x' }, user: 'ann' }, 400, /either user or userCtx/],
      [{ doc: {}, meta: { xattrs: { k: 1 } } }, 400, /no user xattr key configured/],
      [{ doc: {}, docid: 'x' }, 400, /Unknown member "docid"/],
      [{ channels: ['x'] }, 400, /Unknown member "channels"/],
      [[{ doc: {} }], 400, /must be a JSON object/],
      [{ doc_id: 'never-written' }, 404, /missing/],
      [{ doc_id: '_bad' }, 400, /Invalid document id/],
    ];
    for (const [body, status, reason] of cases) {
      const res = await sync(body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(res.body.reason).toMatch(reason);
    }
    const mismatch = await sync({ doc_id: 'stored' }, '?doc_id=other');
    expect(mismatch.status).toBe(400);
    const notJson = await request('POST', admin('_sync'), '{"doc":', { 'Content-Type': 'application/json' });
    expect(notJson.status).toBe(400);
    const wrongType = await request('POST', admin('_sync'), 'doc=1', { 'Content-Type': 'text/plain' });
    expect(wrongType.status).toBe(415);
    const empty = await request('GET', admin('_sync'));
    expect(empty.status).toBe(400);
  });

  it('is only served on the admin API', async () => {
    const res = await postJson(`${server.url}/db/_sync`, { doc: {} });
    expect(res.status).toBe(403);
  });
});

describe('POST /{db}/_import_filter (import filter dry run)', () => {
  it('runs the database import filter on a document given in the request', async () => {
    expect((await filter({ doc: { type: 'mobile' } })).body).toEqual({ shouldImport: true, exception: '', error: '', logging: { errors: [], info: [] } });
    expect((await filter({ doc: { type: 'server' } })).body).toMatchObject({ shouldImport: false, exception: '' });
  });

  it('reports a filter that throws as not imported, with the error', async () => {
    const res = await filter({ doc: { crash: true } });
    expect(res.status).toBe(200);
    expect(res.body.shouldImport).toBe(false);
    expect(res.body.exception).toMatch(/TypeError/);
    expect(res.body.error).toBe(res.body.exception);
  });

  it('runs on a stored document by doc_id, in the body or the query string', async () => {
    await putJson(admin('mobile-doc'), { type: 'mobile' });
    expect((await filter({ doc_id: 'mobile-doc' })).body.shouldImport).toBe(true);
    expect((await request('GET', admin('_import_filter?doc_id=mobile-doc'))).body.shouldImport).toBe(true);
  });

  it('runs a custom filter given in the request and refuses one that does not compile', async () => {
    expect((await filter({ doc: { type: 'server' }, import_filter: 'function (doc) { return true; }' })).body.shouldImport).toBe(true);
    const broken = await filter({ doc: {}, import_filter: 'function (doc) { return }}' });
    expect(broken.status).toBe(400);
    expect(broken.body.reason).toMatch(/^import_filter does not compile/);
  });

  it('imports every document when the database has no import filter', async () => {
    const res = await postJson(`${server.adminUrl}/plain/_import_filter`, { doc: { anything: 1 } });
    expect(res.body).toMatchObject({ shouldImport: true, exception: '' });
  });

  it('answers bad requests with 400 and unknown or deleted documents with 404', async () => {
    expect((await filter({})).status).toBe(400);
    expect((await filter({ doc: {}, doc_id: 'mobile-doc' })).status).toBe(400);
    expect((await filter({ doc: 5 })).status).toBe(400);
    expect((await filter({ doc: {}, import_filter: false })).status).toBe(400);
    expect((await filter({ doc: {}, sync_function: 'x' })).status).toBe(400);
    expect((await filter({ doc_id: 'never-written' })).status).toBe(404);
    const put = await putJson(admin('filtered-gone'), { type: 'mobile' });
    await request('DELETE', admin(`filtered-gone?rev=${put.body.rev}`));
    expect((await filter({ doc_id: 'filtered-gone' })).body).toMatchObject({ error: 'not_found', reason: 'deleted' });
  });
});

describe('direct writes not imported yet', () => {
  it('are read as the revision their import would create, without importing them', async () => {
    const app = new Database(join(server.dir, 'db.sqlite'), { fileMustExist: true });
    try {
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('from-sql', '{"type":"mobile","channels":["sql"],"echo":true}');
      app.prepare('INSERT INTO documents (id, body) VALUES (?, ?)').run('broken-sql', '{"type":');
    } finally {
      app.close();
    }
    const before = await info();
    const res = await sync({ doc_id: 'from-sql' });
    expect(res.status).toBe(200);
    expect(res.body.channels).toEqual(['sql', 'id=from-sql', 'old=none', 'deleted=false']);
    expect((await filter({ doc_id: 'from-sql' })).body.shouldImport).toBe(true);
    const broken = await filter({ doc_id: 'broken-sql' });
    expect(broken.body).toMatchObject({ shouldImport: false });
    expect(broken.body.exception).toMatch(/not valid JSON/);
    expect((await sync({ doc_id: 'broken-sql' })).status).toBe(404);
    expect(await info()).toEqual(before);
    const history = await getJson(admin('from-sql/_all_channels'));
    expect(history.body).toEqual({});
  });
});

describe('GET /{db}/{doc}/_all_channels', () => {
  it('lists the channels a document is in and those it left, with the sequences it entered and left them', async () => {
    const first = await putJson(admin('wanderer'), { channels: ['a', 'b'] });
    const { update_seq: joinedAt } = await info();
    const second = await putJson(admin('wanderer'), { _rev: first.body.rev, channels: ['b', 'c'] });
    expect(second.status).toBe(201);
    const { update_seq: leftAt } = await info();
    const res = await getJson(admin('wanderer/_all_channels'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ b: [`${joinedAt}-0`], c: [`${leftAt}-0`], a: [`${joinedAt}-${leftAt}`] });
    expect((await getJson(admin('_design/none/_all_channels'))).status).toBe(404);
    expect((await getJson(admin('nobody-here/_all_channels'))).status).toBe(404);
  });

  it('leaves an attachment named _all_channels reachable on the public API', async () => {
    const doc = await putJson(admin('with-att'), { channels: ['a'] });
    const { update_seq: joinedAt } = await info();
    const att = await request('PUT', admin(`with-att/_all_channels?rev=${doc.body.rev}`), 'hello', { 'Content-Type': 'text/plain' });
    expect(att.status).toBe(201);
    const pub = await fetch(`${server.url}/db/with-att/_all_channels`, { headers: basicAuth('ann', 'secret') });
    expect(pub.status).toBe(200);
    expect(await pub.text()).toBe('hello');
    expect((await getJson(admin('with-att/_all_channels'))).body).toEqual({ a: [`${joinedAt}-0`] });
  });
});

describe('dry runs write nothing', () => {
  it('leaves update_seq and the document count unchanged', async () => {
    await putJson(admin('steady'), { channels: ['s'] });
    const before = await info();
    await sync({ doc: { channels: ['x'], grantTo: 'ann', member: 'ann', team: 'red' } });
    await sync({ doc_id: 'steady' });
    await sync({ doc_id: 'steady', doc: { channels: ['y'] } });
    await sync({ doc_id: 'steady', sync_function: 'function (doc) { access("ann", "new"); }' });
    await sync({ doc: { bad: 'no' }, user: 'ann' });
    await filter({ doc_id: 'steady' });
    await filter({ doc: { type: 'mobile' }, import_filter: 'function (doc) { return true; }' });
    await getJson(admin('steady/_all_channels'));
    expect(await info()).toEqual(before);
    const user = await getJson(admin('_user/ann'));
    expect(user.body.all_channels).not.toContain('new');
    expect(user.body.all_channels).not.toContain('x');
  });
});

describe('request parsing under random input', () => {
  /** `arb`, or absent (undefined, dropped from the request) `absent` times in `absent + 1`. */
  const maybe = <T>(arb: fc.Arbitrary<T>, absent = 1) => fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
  const compact = (request: Record<string, unknown>) => Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
  const scalar = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('x', ['a', 'b'], true, 60, 'ann', '1-abc'));
  const userProps = fc.dictionary(fc.constantFrom('channels', 'bad', 'crash', 'echo', 'grantTo', 'member', 'team', 'ttl', 'needs', 'owner', 'type'), scalar, { maxKeys: 4 });
  const specials = fc.dictionary(fc.constantFrom('_id', '_rev', '_deleted', '_attachments', '_sync', '_revisions'), scalar, { maxKeys: 2 });
  const doc = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(userProps, maybe(specials, 3)).map(([props, sp]) => ({ ...sp, ...props })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
  );
  const docId = fc.constantFrom('stored', 'gone', 'never-written', '_bad', '', 42, null);
  const source = (kind: 'sync' | 'filter') =>
    fc.constantFrom(
      kind === 'sync' ? 'function (doc, oldDoc) { channel(doc.channels); access(doc.grantTo, "g"); }' : 'function (doc) { return !!doc.type; }',
      'function (doc) { throw({forbidden: "no"}); }',
      'function (doc) { return doc.a.b; }',
      'function (doc) {',
      '',
      7,
    );
  const userCtx = fc.oneof(
    fc.record({ name: fc.oneof(fc.string({ maxLength: 6 }), fc.constant('ann')), roles: fc.constantFrom(['r'], [], 'r', [1]), channels: fc.constantFrom(['a'], 'a', null) }, { requiredKeys: [] }),
    fc.jsonValue({ maxDepth: 1 }),
  );
  const syncRequest = fc
    .record({
      doc: maybe(doc),
      oldDoc: maybe(doc, 3),
      doc_id: maybe(docId),
      sync_function: maybe(source('sync'), 2),
      userCtx: maybe(userCtx, 3),
      user: maybe(fc.constantFrom('ann', 'nobody', '', 3), 4),
      meta: maybe(fc.oneof(fc.record({ xattrs: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 1 })), 6),
      other: maybe(scalar, 10),
    })
    .map(compact);
  const filterRequest = fc
    .record({ doc: maybe(doc), doc_id: maybe(docId, 2), import_filter: maybe(source('filter'), 2), other: maybe(scalar, 10) })
    .map(compact);
  const noise = fc.jsonValue({ maxDepth: 2 });
  const cases = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constant('_sync'), syncRequest) },
    { weight: 3, arbitrary: fc.tuple(fc.constant('_import_filter'), filterRequest) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('_sync', '_import_filter'), noise) },
  );

  it('never answers 5xx, and answers failures with {"error","reason"}', async () => {
    const before = await info();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(cases, async ([endpoint, payload]) => {
        const res = await postJson(admin(endpoint), JSON.stringify(payload));
        expect(res.status, JSON.stringify(payload)).toBeLessThan(500);
        if (res.status >= 400) expect(Object.keys(res.body as object).sort()).toEqual(['error', 'reason']);
        else accepted++;
      }),
      { numRuns: 400, seed: 20_250_301 },
    );
    expect(accepted).toBeGreaterThan(40);
    expect(await info()).toEqual(before);
  });
});
