/**
 * Edge mode end to end: a JSON5 config whose databases are SQLite files given by `path` (relative to the
 * config file, created with `create: true`), users from a users file written by `syncline user add`, and
 * `enable_client_sync` enforced on the REST API and on Couchbase Lite replication for public-API clients
 * (the admin API is never restricted). Start-up refuses a plain-text password in the users file and a
 * missing database file with `create: false`.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, Replicator, type ReplicationType } from '@syncline/client';
import { basicAuth, request } from '../support/rest.ts';
import { runCli, serveExpectingFailure, startConfigServer, type ConfigServer } from '../support/config-server.ts';

const ALICE = { username: 'alice', password: 'alicepass' };
const BOB = { username: 'bob', password: 'bobpass' };
const asAlice = basicAuth(ALICE.username, ALICE.password);

const CONFIG = `// Syncline edge mode, Couchbase Edge Server style
{
  interface: "127.0.0.1:0",
  adminInterface: "127.0.0.1:0",
  metricsInterface: "",
  users: "users.json",
  databases: {
    // clients read only
    readonly: { path: "data/readonly.sqlite", create: true, enable_client_sync: "pull" },
    // clients write only
    inbox: { path: "data/inbox.sqlite", create: true, enable_client_sync: "push" },
    closed: { path: "data/closed.sqlite", create: true, enable_client_sync: false },
    both: { path: "data/both.sqlite", create: true, enable_client_sync: "bidirectional" },
  },
}
`;

let root: string;
let dir: string;
let server: ConfigServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'syncline-edge-'));
  dir = join(root, 'conf');
  await mkdir(dir);
  const add = runCli(['user', 'add', 'alice', '--file', join(dir, 'users.json'), '--password', ALICE.password, '--channels', 'news,sports']);
  expect(add.status, add.stderr).toBe(0);
  expect(add.stdout).toContain('added user "alice"');
  // The password read from standard input.
  const addBob = runCli(['user', 'add', 'bob', '--file', 'users.json', '--channels', 'sports'], { cwd: dir, input: `${BOB.password}\n` });
  expect(addBob.status, addBob.stderr).toBe(0);
  await writeFile(join(dir, 'edge.json5'), CONFIG);
  // Started from another directory: `path` and `users` are relative to the config file.
  server = await startConfigServer(join(dir, 'edge.json5'), root);
  for (const db of ['readonly', 'inbox', 'closed', 'both']) {
    const res = await request('PUT', `${server.adminUrl}/${db}/seed`, { channels: ['news'], n: 1 });
    expect(res.status).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

const wsUrl = (db: string): string => `${server.url.replace(/^http/, 'ws')}/${db}`;

async function replicate(db: string, type: ReplicationType, store = new MemoryStore()) {
  const repl = new Replicator({ url: wsUrl(db), db: store, type, auth: ALICE, retry: { maxAttempts: 1 } });
  repl.start();
  const status = await repl.whenStopped();
  return { status, store };
}

describe('edge configuration', () => {
  it('keeps the users file hashed and creates the database files next to the config', async () => {
    const users = JSON.parse(await readFile(join(dir, 'users.json'), 'utf8')) as Record<string, { password_hash: string; admin_channels: string[] }>;
    expect(users.alice!.password_hash).toMatch(/^scrypt\$/);
    expect(users.alice!.admin_channels).toEqual(['news', 'sports']);
    expect(JSON.stringify(users)).not.toContain(ALICE.password);
    for (const db of ['readonly', 'inbox', 'closed', 'both']) expect(existsSync(join(dir, 'data', `${db}.sqlite`))).toBe(true);
  });

  it('logs users of the users file in with Basic auth, and only them', async () => {
    expect((await request('GET', `${server.url}/both/seed`, undefined, asAlice)).status).toBe(200);
    expect((await request('GET', `${server.url}/both/seed`, undefined, basicAuth(BOB.username, BOB.password))).status).toBe(403);
    expect((await request('GET', `${server.url}/both/seed`, undefined, basicAuth('alice', 'wrong'))).status).toBe(401);
    expect((await request('GET', `${server.url}/both/seed`)).status).toBe(401);
    const session = await request('GET', `${server.url}/readonly/_session`, undefined, asAlice);
    expect(session.body.userCtx).toMatchObject({ name: 'alice', channels: expect.objectContaining({ news: expect.any(Number) }) });
  });
});

describe('enable_client_sync on the REST API', () => {
  it('"pull": reads work, every kind of write is refused with 403 forbidden', async () => {
    const base = `${server.url}/readonly`;
    const doc = await request('GET', `${base}/seed`, undefined, asAlice);
    expect(doc.status).toBe(200);
    expect((await request('GET', `${base}/_changes`, undefined, asAlice)).status).toBe(200);
    expect((await request('GET', `${base}/_all_docs`, undefined, asAlice)).status).toBe(200);
    expect((await request('POST', `${base}/_bulk_get`, { docs: [{ id: 'seed' }] }, asAlice)).status).toBe(200);
    const rev = doc.body._rev as string;
    const writes = [
      await request('PUT', `${base}/new`, { channels: ['news'] }, asAlice),
      await request('POST', `${base}/`, { channels: ['news'] }, asAlice),
      await request('PUT', `${base}/seed`, { _rev: rev, channels: ['news'], n: 2 }, asAlice),
      await request('DELETE', `${base}/seed?rev=${rev}`, undefined, asAlice),
      await request('POST', `${base}/_bulk_docs`, { docs: [{ _id: 'bulk', channels: ['news'] }] }, asAlice),
      await request('PUT', `${base}/seed/a.txt?rev=${rev}`, 'hello', { ...asAlice, 'Content-Type': 'text/plain' }),
    ];
    for (const res of writes) {
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden', reason: expect.stringContaining('enable_client_sync') });
    }
    // The admin API is not restricted.
    expect((await request('PUT', `${server.adminUrl}/readonly/by-admin`, { channels: ['news'] })).status).toBe(201);
  });

  it('"push": writes work, document reads and feeds are refused with 403 forbidden', async () => {
    const base = `${server.url}/inbox`;
    const put = await request('PUT', `${base}/from-client`, { channels: ['news'], n: 1 }, asAlice);
    expect(put.status).toBe(201);
    expect((await request('POST', `${base}/_bulk_docs`, { docs: [{ _id: 'bulk', channels: ['news'] }] }, asAlice)).status).toBe(201);
    const reads = [
      await request('GET', `${base}/seed`, undefined, asAlice),
      await request('GET', `${base}/_changes`, undefined, asAlice),
      await request('GET', `${base}/_all_docs`, undefined, asAlice),
      await request('POST', `${base}/_bulk_get`, { docs: [{ id: 'seed' }] }, asAlice),
    ];
    for (const res of reads) expect(res).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    const admin = await request('GET', `${server.adminUrl}/inbox/from-client`);
    expect(admin).toMatchObject({ status: 200, body: { n: 1 } });
  });

  it('false: both directions are refused', async () => {
    const base = `${server.url}/closed`;
    expect((await request('GET', `${base}/seed`, undefined, asAlice)).status).toBe(403);
    expect((await request('PUT', `${base}/x`, { channels: ['news'] }, asAlice)).status).toBe(403);
    expect((await request('GET', `${server.adminUrl}/closed/seed`)).status).toBe(200);
  });
});

describe('enable_client_sync on Couchbase Lite replication', () => {
  it('"pull": the client pulls, its push fails with 403', async () => {
    const { status, store } = await replicate('readonly', 'pull');
    expect(status.error).toBeUndefined();
    expect(store.docIds).toContain('seed');

    const local = new MemoryStore();
    await local.put('pushed', { channels: ['news'] });
    const pushed = await replicate('readonly', 'push', local);
    expect(pushed.status.error).toBeDefined();
    expect(pushed.status.error!.message).toMatch(/403/);
    expect((await request('GET', `${server.adminUrl}/readonly/pushed`)).status).toBe(404);
  });

  it('"push": the client pushes, its pull (subChanges) fails with 403', async () => {
    const local = new MemoryStore();
    await local.put('pushed-blip', { channels: ['news'], n: 7 });
    const pushed = await replicate('inbox', 'push', local);
    expect(pushed.status.error).toBeUndefined();
    expect(await request('GET', `${server.adminUrl}/inbox/pushed-blip`)).toMatchObject({ status: 200, body: { n: 7 } });

    const pulled = await replicate('inbox', 'pull');
    expect(pulled.status.error).toMatchObject({ status: 403 });
    expect(pulled.store.docIds).toEqual([]);
  });

  it('false: the _blipsync upgrade itself is refused with 403', async () => {
    const { status } = await replicate('closed', 'pull');
    expect(status.error).toMatchObject({ status: 403 });
  });

  it('"bidirectional": push and pull both work', async () => {
    const local = new MemoryStore();
    await local.put('two-way', { channels: ['news'] });
    const { status, store } = await replicate('both', 'pushAndPull', local);
    expect(status.error).toBeUndefined();
    expect(store.docIds.sort()).toEqual(['seed', 'two-way']);
  });
});

describe('edge start-up errors', () => {
  it('refuses a plain-text password in the users file, naming the user, with a non-zero exit', async () => {
    const bad = join(root, 'bad-users');
    await mkdir(bad);
    await writeFile(join(bad, 'users.json'), JSON.stringify({ carol: { password: 'carolpass', admin_channels: ['news'] } }));
    await writeFile(join(bad, 'config.json5'), `{ interface: "127.0.0.1:0", adminInterface: "127.0.0.1:0", metricsInterface: "", users: "users.json", databases: { db: { path: "db.sqlite", create: true } } }`);
    const result = serveExpectingFailure(join(bad, 'config.json5'), bad);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/user "carol" has a plain-text "password"/);
  });

  it('refuses a missing database file when create is false (Edge Server\'s default)', async () => {
    const missing = join(root, 'missing');
    await mkdir(missing);
    await writeFile(join(missing, 'config.json5'), `{ interface: "127.0.0.1:0", adminInterface: "127.0.0.1:0", metricsInterface: "", databases: { db: { path: "nowhere.sqlite" } } }`);
    const result = serveExpectingFailure(join(missing, 'config.json5'), missing);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/databases\.db\.path: database file .*nowhere\.sqlite does not exist/);
    expect(existsSync(join(missing, 'nowhere.sqlite'))).toBe(false);
  });

  it('refuses a database that sets both server and path', async () => {
    const both = join(root, 'both');
    await mkdir(both);
    await writeFile(join(both, 'config.json'), JSON.stringify({ databases: { db: { server: 'sqlite::memory:', path: 'x.sqlite', create: true } } }));
    const result = serveExpectingFailure(join(both, 'config.json'), both);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('databases.db.path');
  });
});
