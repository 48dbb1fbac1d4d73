/**
 * Property: whatever users, roles, grants and documents exist, every read endpoint gives each user exactly the
 * documents its channels allow, and a client that follows the user's `_changes` feed incrementally (adding
 * documents, purging removals) always holds exactly that set.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server-process.ts';
import { request, basicAuth } from '../support/rest.ts';

const USERS = ['u1', 'u2', 'u3'] as const;
const ROLES = ['r1', 'r2'] as const;
const CHANNELS = ['a', 'b', 'c', 'd'] as const;
const DOC_IDS = ['d1', 'd2', 'd3', 'd4', 'd5'] as const;
const PASSWORD = 'password';

const SYNC = `function (doc, oldDoc) {
  channel(doc.channels);
  if (doc.grants) { for (var user in doc.grants) access(user, doc.grants[user]); }
  if (doc.roles) { for (var name in doc.roles) role(name, doc.roles[name]); }
}`;

type Action =
  | { kind: 'user'; name: string; channels: string[]; roles: string[] }
  | { kind: 'role'; name: string; channels: string[] }
  | { kind: 'deleteRole'; name: string }
  | { kind: 'doc'; id: string; channels: string[]; grants: Record<string, string[]>; roles: Record<string, string[]> }
  | { kind: 'delete'; id: string };

const subset = (items: readonly string[]): fc.Arbitrary<string[]> => fc.subarray([...items]);
const channelList: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 6, arbitrary: subset(CHANNELS) },
  { weight: 1, arbitrary: fc.constant<string[]>(['*']) },
  { weight: 1, arbitrary: fc.constant<string[]>(['!']) },
);

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('user' as const), name: fc.constantFrom(...USERS), channels: channelList, roles: subset(ROLES) }),
  fc.record({ kind: fc.constant('role' as const), name: fc.constantFrom(...ROLES), channels: subset(CHANNELS) }),
  fc.record({ kind: fc.constant('deleteRole' as const), name: fc.constantFrom(...ROLES) }),
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('doc' as const),
      id: fc.constantFrom(...DOC_IDS),
      channels: fc.oneof({ weight: 5, arbitrary: subset(CHANNELS) }, { weight: 1, arbitrary: fc.constant<string[]>(['!']) }),
      grants: fc.dictionary(fc.constantFrom(...USERS, 'role:r1', 'role:r2'), subset(CHANNELS), { maxKeys: 2 }),
      roles: fc.dictionary(fc.constantFrom(...USERS), fc.subarray(['role:r1', 'role:r2']), { maxKeys: 1 }),
    }),
  },
  fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...DOC_IDS) }),
);

/** What the database should hold, and from it what each user should see. */
class Model {
  users = new Map<string, { channels: string[]; roles: string[] }>();
  roles = new Map<string, string[]>();
  docs = new Map<string, Extract<Action, { kind: 'doc' }>>();

  channelsOf(user: string): Set<string> {
    const u = this.users.get(user)!;
    const out = new Set<string>(['!', ...u.channels]);
    const roleNames = new Set(u.roles);
    for (const doc of this.docs.values()) {
      for (const c of doc.grants[user] ?? []) out.add(c);
      for (const r of doc.roles[user] ?? []) roleNames.add(r.slice('role:'.length));
    }
    for (const r of roleNames) {
      if (!this.roles.has(r)) continue;
      for (const c of this.roles.get(r)!) out.add(c);
      for (const doc of this.docs.values()) for (const c of doc.grants[`role:${r}`] ?? []) out.add(c);
    }
    return out;
  }

  visibleTo(user: string): string[] {
    const channels = this.channelsOf(user);
    return [...this.docs.values()]
      .filter((d) => channels.has('*') || d.channels.some((c) => channels.has(c)))
      .map((d) => d.id)
      .sort();
  }
}

const auth = (user: string) => basicAuth(user, PASSWORD);

let server: TestServer;
let dbCounter = 0;

beforeAll(async () => {
  server = await startTestServer({ databases: {} });
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

async function ok(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const res = await request(method, url, body, headers);
  if (res.status >= 300) throw new Error(`${method} ${url} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function apply(admin: string, a: Action, model: Model, revs: Map<string, string>): Promise<void> {
  switch (a.kind) {
    case 'user':
      await ok('PUT', `${admin}/_user/${a.name}`, { admin_channels: a.channels, admin_roles: a.roles });
      model.users.set(a.name, { channels: a.channels, roles: a.roles });
      return;
    case 'role':
      await ok('PUT', `${admin}/_role/${a.name}`, { admin_channels: a.channels });
      model.roles.set(a.name, a.channels);
      return;
    case 'deleteRole': {
      const res = await request('DELETE', `${admin}/_role/${a.name}`);
      expect(res.status).toBe(model.roles.has(a.name) ? 200 : 404);
      model.roles.delete(a.name);
      return;
    }
    case 'doc': {
      const rev = revs.get(a.id);
      const body = { channels: a.channels, grants: a.grants, roles: a.roles, ...(rev ? { _rev: rev } : {}) };
      revs.set(a.id, (await ok('PUT', `${admin}/${a.id}`, body)).rev);
      model.docs.set(a.id, a);
      return;
    }
    case 'delete': {
      const rev = revs.get(a.id);
      if (!rev || !model.docs.has(a.id)) return;
      revs.set(a.id, (await ok('DELETE', `${admin}/${a.id}?rev=${rev}`)).rev);
      model.docs.delete(a.id);
      return;
    }
  }
}

interface Client {
  since: string | number;
  have: Set<string>;
}

/**
 * Pulls the user's feed from where the client left off, applying it the way a replicator does. With a limit
 * it pages through, resuming from each page's last_seq (compound positions included).
 */
async function follow(pub: string, user: string, client: Client, limit?: number): Promise<void> {
  for (let page = 0; page < 100; page++) {
    const query = `since=${encodeURIComponent(String(client.since))}${limit ? `&limit=${limit}` : ''}`;
    const feed = await ok('GET', `${pub}/_changes?${query}`, undefined, auth(user));
    for (const entry of feed.results as Array<{ id: string; deleted?: boolean; removed?: string[] }>) {
      if (entry.deleted || entry.removed) client.have.delete(entry.id);
      else client.have.add(entry.id);
    }
    client.since = feed.last_seq;
    if (!limit || feed.results.length < limit) return;
  }
  throw new Error('feed did not end');
}

async function checkUser(pub: string, user: string, model: Model, client: { whole: Client; paged: Client }, revs: Map<string, string>): Promise<void> {
  const expected = model.visibleTo(user);
  const h = auth(user);
  const allDocs = await ok('GET', `${pub}/_all_docs`, undefined, h);
  expect(allDocs.rows.map((r: { id: string }) => r.id).sort(), `_all_docs of ${user}`).toEqual(expected);

  const changes = await ok('GET', `${pub}/_changes`, undefined, h);
  const live = (changes.results as Array<{ id: string; deleted?: boolean; removed?: string[] }>).filter((e) => !e.deleted && !e.removed);
  expect(live.map((e) => e.id).sort(), `_changes since 0 of ${user}`).toEqual(expected);

  await follow(pub, user, client.whole);
  expect([...client.whole.have].sort(), `incremental _changes of ${user}`).toEqual(expected);
  await follow(pub, user, client.paged, 2);
  expect([...client.paged.have].sort(), `incremental _changes of ${user}, two at a time`).toEqual(expected);

  const bulk = await ok('POST', `${pub}/_bulk_get`, { docs: DOC_IDS.map((id) => ({ id })) }, h);
  const readable = bulk.results.filter((r: { docs: Array<{ ok?: unknown }> }) => r.docs[0]?.ok).map((r: { id: string }) => r.id).sort();
  expect(readable, `_bulk_get of ${user}`).toEqual(expected);

  for (const id of DOC_IDS) {
    const res = await request('GET', `${pub}/${id}`, undefined, h);
    expect(res.status, `GET ${id} as ${user}`).toBe(expected.includes(id) ? 200 : model.docs.has(id) ? 403 : 404);
  }

  const known = DOC_IDS.filter((id) => model.docs.has(id));
  const diff = await ok('POST', `${pub}/_revs_diff`, Object.fromEntries(known.map((id) => [id, [revs.get(id)!]])), h);
  for (const id of known) {
    expect(diff[id] === undefined, `_revs_diff of ${id} as ${user}`).toBe(expected.includes(id));
  }
}

describe('access control property', () => {
  it('every user reads exactly the documents its channels allow, through every endpoint', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(...USERS.map(() => channelList)),
        fc.array(action, { minLength: 1, maxLength: 12 }),
        async (initialChannels, actions) => {
          const name = `prop${++dbCounter}`;
          await ok('PUT', `${server.adminUrl}/${name}/`, { server: `sqlite:${server.dir}/${name}.sqlite`, sync: SYNC });
          const admin = `${server.adminUrl}/${name}`;
          const pub = `${server.url}/${name}`;
          const model = new Model();
          const revs = new Map<string, string>();
          const clients = new Map<string, { whole: Client; paged: Client }>();
          for (const [i, user] of USERS.entries()) {
            await ok('PUT', `${admin}/_user/${user}`, { password: PASSWORD, admin_channels: initialChannels[i] });
            model.users.set(user, { channels: initialChannels[i]!, roles: [] });
            clients.set(user, { whole: { since: 0, have: new Set() }, paged: { since: 0, have: new Set() } });
          }
          try {
            for (const [step, a] of actions.entries()) {
              await apply(admin, a, model, revs);
              for (const user of USERS) {
                try {
                  await checkUser(pub, user, model, clients.get(user)!, revs);
                } catch (err) {
                  (err as Error).message = `after step ${step} (${JSON.stringify(a)}): ${(err as Error).message}`;
                  throw err;
                }
              }
            }
          } finally {
            await request('DELETE', `${server.adminUrl}/${name}/`);
          }
        },
      ),
      { numRuns: Number(process.env.ACCESS_PROPERTY_RUNS ?? 12), endOnFailure: true },
    );
  }, 240_000);
});
