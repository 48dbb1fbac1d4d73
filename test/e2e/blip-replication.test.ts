/**
 * Our Replicator (packages/client) against the real server over real WebSockets, at scale: a one-shot push
 * of 5,000 documents (some with inline blobs), local updates and deletions pushed again, and a pull into a
 * fresh store, each compared with the server over REST; a continuous pull receiving a later REST write;
 * channel removal and access revocation purging documents from a continuous client; a conflicting push
 * failing only that document; and a replication interrupted by a server restart resuming from its checkpoint.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, Replicator, blobRefs, webSocketConnector, type BasicAuth, type Connector, type DocumentEvent, type JsonObject, type LocalChange, type ReplicatorOptions, type RevisionToInsert } from '@syncline/client';
import { eventually, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const SYNC = `function (doc, oldDoc) {
  channel(doc.channels);
}`;
const FULL: BasicAuth = { username: 'full', password: 'fullpass' };
const ALICE: BasicAuth = { username: 'alice', password: 'alicepass' };
const USERS = {
  full: { password: FULL.password, admin_channels: ['*'] },
  alice: { password: ALICE.password, admin_channels: ['a'] },
};

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ logLevel: 'warn', databases: { db: { sync: SYNC, users: USERS } } });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const wsUrl = (base: string, db = 'db'): string => `${base.replace(/^http/, 'ws')}/${db}`;

// ---- traffic counting: wraps the WebSocket connector, one record per session ----

interface Traffic {
  /** Requests received from the server, by profile. */
  received: Map<string, number>;
  /** Requests sent to the server, by profile. */
  sent: Map<string, number>;
  /** Entries of the `changes` messages received and of the `proposeChanges` messages sent. */
  changesEntries: number;
  proposedEntries: number;
}

function countingConnector(url: string, auth: BasicAuth | undefined, sessions: Traffic[]): Connector {
  const inner = webSocketConnector({ url, auth });
  const bump = (map: Map<string, number>, key: string): void => {
    map.set(key, (map.get(key) ?? 0) + 1);
  };
  const entries = (body: Uint8Array | string | undefined): number => {
    if (body === undefined) return 0;
    try {
      const parsed: unknown = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
      return Array.isArray(parsed) ? parsed.length : 0;
    } catch {
      return 0;
    }
  };
  return async (handlers) => {
    const traffic: Traffic = { received: new Map(), sent: new Map(), changesEntries: 0, proposedEntries: 0 };
    const session = await inner({
      onRequest: (rq) => {
        const profile = rq.profile ?? '';
        bump(traffic.received, profile);
        if (profile === 'changes') traffic.changesEntries += entries(rq.body);
        return handlers.onRequest(rq);
      },
    });
    sessions.push(traffic);
    const connection = session.connection;
    const send = connection.sendRequest.bind(connection);
    connection.sendRequest = (message) => {
      const profile = message.profile ?? '';
      bump(traffic.sent, profile);
      if (profile === 'proposeChanges') traffic.proposedEntries += entries(message.body as string | Uint8Array | undefined);
      return send(message);
    };
    return session;
  };
}

const total = (sessions: readonly Traffic[], pick: (t: Traffic) => number): number => sessions.reduce((n, t) => n + pick(t), 0);

// ---- comparing a store with the server over REST ----

interface ServerRow {
  rev: string;
  deleted: boolean;
  doc: JsonObject | null;
}

async function serverRows(adminUrl: string, ids: string[]): Promise<Map<string, ServerRow | undefined>> {
  const out = new Map<string, ServerRow | undefined>();
  for (let i = 0; i < ids.length; i += 1000) {
    const keys = ids.slice(i, i + 1000);
    const res = await request('POST', `${adminUrl}/db/_all_docs?include_docs=true`, { keys });
    expect(res.status).toBe(200);
    for (const row of res.body.rows as { key: string; error?: string; value?: { rev: string; deleted?: boolean }; doc?: JsonObject | null }[]) {
      out.set(row.key, row.value ? { rev: row.value.rev, deleted: row.value.deleted === true, doc: row.doc ?? null } : undefined);
    }
  }
  return out;
}

const withoutMeta = (body: JsonObject): JsonObject => {
  const { _id, _rev, _attachments, _revisions, _deleted, ...rest } = body;
  return rest;
};

const attachmentPath = (adminUrl: string, docId: string, name: string): string =>
  `${adminUrl}/db/${encodeURIComponent(docId)}/${name.split('/').map(encodeURIComponent).join('/')}`;

/**
 * Asserts that the server holds exactly the store's current revisions: same live documents (`_all_docs`),
 * same revision IDs, bodies and deletions, and for each blob the store's bytes as an attachment of the
 * server's document.
 */
async function expectSameAsServer(store: MemoryStore, adminUrl: string): Promise<{ live: number; deleted: number; blobs: number }> {
  const ids = store.docIds.sort();
  const rows = await serverRows(adminUrl, ids);
  const all = await request('GET', `${adminUrl}/db/_all_docs`);
  const serverLive = (all.body.rows as { id: string }[]).map((r) => r.id).filter((id) => !id.startsWith('_')).sort();
  const localLive: string[] = [];
  const local: unknown[] = [];
  const remote: unknown[] = [];
  const blobChecks: { id: string; digest: string; name: string | undefined; bytes: Uint8Array | undefined }[] = [];
  let deleted = 0;
  for (const id of ids) {
    const doc = (await store.getDocument(id))!;
    const row = rows.get(id);
    local.push({ id, rev: doc.revId, deleted: doc.deleted, body: doc.deleted ? null : withoutMeta(doc.body) });
    remote.push(row && { id, rev: row.rev, deleted: row.deleted, body: row.deleted || !row.doc ? null : withoutMeta(row.doc) });
    if (doc.deleted) {
      deleted++;
      continue;
    }
    localLive.push(id);
    const atts = (row?.doc?._attachments ?? {}) as Record<string, { digest: string }>;
    for (const ref of blobRefs(doc.body)) {
      const name = Object.keys(atts).find((n) => atts[n]!.digest === ref.digest);
      blobChecks.push({ id, digest: ref.digest, name, bytes: await store.getBlob(ref.digest) });
    }
  }
  // One comparison for all documents (an expect per document would dominate the test's time).
  expect(remote).toEqual(local);
  expect(serverLive).toEqual(localLive);
  for (const check of blobChecks) {
    expect(check.bytes, `blob ${check.digest} of ${check.id} in the store`).toBeDefined();
    expect(check.name, `attachment ${check.digest} of ${check.id} on the server`).toBeDefined();
    const res = await fetch(attachmentPath(adminUrl, check.id, check.name!));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(check.bytes!)), `bytes of ${check.digest}`).toBe(true);
  }
  const blobs = blobChecks.length;
  return { live: localLive.length, deleted, blobs };
}

async function expectSameAsServerDocs(store: MemoryStore, ids: string[]): Promise<void> {
  const rows = await serverRows(server.adminUrl, ids);
  for (const id of ids) {
    const doc = (await store.getDocument(id))!;
    expect({ id, rev: rows.get(id)?.rev }).toEqual({ id, rev: doc.revId });
    expect(withoutMeta(rows.get(id)!.doc!)).toEqual(withoutMeta(doc.body));
  }
}

async function runOnce(options: ReplicatorOptions, events?: DocumentEvent[]): Promise<Replicator> {
  const repl = new Replicator(options);
  if (events) repl.on('document', (e) => events.push(e));
  repl.start();
  const status = await repl.whenStopped();
  expect(status.error).toBeUndefined();
  return repl;
}

/** The locally saved checkpoint of a replicator (written after the server accepted it). */
async function savedCheckpoint(store: MemoryStore, id: string): Promise<{ local?: number; remote?: unknown } | undefined> {
  return (await store.getLocalRecord(`checkpoint/${id}`)) as { local?: number; remote?: unknown } | undefined;
}

/** The server's sequence in a checkpointed `since` (a number, or the last number of a compound one). */
function sequenceNumber(since: unknown): number {
  const numbers = JSON.stringify(since ?? null).match(/\d+/g);
  return numbers ? Number(numbers[numbers.length - 1]) : 0;
}

/** A MemoryStore that holds calls of one method back, once `hold(count or since)` says so, until `release()`. */
class GatedStore extends MemoryStore {
  readonly #hold: (n: number) => boolean;
  readonly #method: 'insertRevision' | 'changesSince';
  #count = 0;
  #released = false;
  #waiters: (() => void)[] = [];
  blocked = 0;

  constructor(hold: (n: number) => boolean, method: 'insertRevision' | 'changesSince') {
    super();
    this.#hold = hold;
    this.#method = method;
  }

  release(): void {
    this.#released = true;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async #gate(n: number): Promise<void> {
    if (this.#released || !this.#hold(n)) return;
    this.blocked++;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  override async insertRevision(rev: RevisionToInsert): Promise<void> {
    if (this.#method === 'insertRevision') await this.#gate(++this.#count);
    return super.insertRevision(rev);
  }

  override async changesSince(since: number, limit: number): Promise<LocalChange[]> {
    if (this.#method === 'changesSince') await this.#gate(since);
    return super.changesSince(since, limit);
  }
}

const filler = (i: number): string => randomBytes(450).toString('hex').slice(0, 880 + (i % 40));

describe('Replicator against the server, end to end', () => {
  it('pushes 5,000 documents with blobs, then updates and deletions, and pulls them all back into a fresh store', async () => {
    const store = new MemoryStore();
    const N = 5000;
    const blobBytes = new Map<number, Buffer>();
    for (let i = 0; i < N; i++) {
      const body: JsonObject = { channels: ['all'], n: i, text: filler(i), nested: { tags: [`t${i % 7}`], ok: i % 2 === 0 } };
      if (i % 100 === 7) {
        const bytes = randomBytes(1000 + (i % 3000));
        blobBytes.set(i, bytes);
        const digest = await store.putBlob(bytes);
        body.photo = { '@type': 'blob', digest, length: bytes.length, content_type: 'application/octet-stream' };
      }
      await store.put(`doc-${String(i).padStart(5, '0')}`, body);
    }
    const options = { url: wsUrl(server.url), db: store, type: 'push', auth: FULL } as const;
    const pushEvents: DocumentEvent[] = [];
    await runOnce(options, pushEvents);
    expect(pushEvents.filter((e) => e.error)).toEqual([]);
    expect(pushEvents.length).toBe(N);
    const first = await expectSameAsServer(store, server.adminUrl);
    expect(first).toEqual({ live: N, deleted: 0, blobs: blobBytes.size });

    // Local updates (one of them adds a blob to a document that had none) and deletions, pushed again.
    for (let i = 0; i < 300; i++) {
      const id = `doc-${String(i * 13).padStart(5, '0')}`;
      const doc = (await store.getDocument(id))!;
      const body: JsonObject = { ...doc.body, n: -i - 1, updated: true };
      if (i === 1) {
        const bytes = randomBytes(5000);
        body.extra = { '@type': 'blob', digest: await store.putBlob(bytes), length: bytes.length, content_type: 'image/png' };
      }
      await store.put(id, body);
    }
    for (let i = 0; i < 200; i++) await store.delete(`doc-${String(i * 17 + 5).padStart(5, '0')}`);
    const againEvents: DocumentEvent[] = [];
    await runOnce(options, againEvents);
    expect(againEvents.filter((e) => e.error)).toEqual([]);
    // Only the changed documents went out again (the checkpoint held the rest).
    expect(new Set(againEvents.map((e) => e.docId)).size).toBeLessThanOrEqual(500);
    const second = await expectSameAsServer(store, server.adminUrl);
    expect(second.deleted).toBeGreaterThan(150);
    expect(second.live + second.deleted).toBe(N);

    // Pull everything into a fresh store (as the same user; deletions included once there is a checkpoint).
    const fresh = new MemoryStore();
    const pullEvents: DocumentEvent[] = [];
    await runOnce({ url: wsUrl(server.url), db: fresh, type: 'pull', auth: FULL }, pullEvents);
    expect(pullEvents.filter((e) => e.error)).toEqual([]);
    const pulled = await expectSameAsServer(fresh, server.adminUrl);
    // A first pull skips tombstones (activeOnly), as Couchbase Lite does.
    expect(pulled.live).toBe(second.live);
    expect(pulled.blobs).toBe(second.blobs);
  });

  it('a continuous pull delivers a document written, then deleted, over REST after it caught up', async () => {
    const store = new MemoryStore();
    await using repl = new Replicator({ url: wsUrl(server.url), db: store, type: 'pull', continuous: true, auth: FULL, channels: ['later'] });
    repl.start();
    await repl.waitFor((s) => s === 'idle');
    expect(store.docIds).toEqual([]);
    const put = await request('PUT', `${server.adminUrl}/db/later-1`, { channels: ['later'], written: 'over REST' });
    expect(put.status).toBe(201);
    const doc = await eventually(async () => store.getDocument('later-1'));
    expect(doc).toMatchObject({ revId: put.body.rev, deleted: false, body: { channels: ['later'], written: 'over REST' } });
    // Later deletions arrive too, although the first pull asked for live documents only (activeOnly).
    const del = await request('DELETE', `${server.adminUrl}/db/later-1?rev=${put.body.rev as string}`);
    expect(del.status).toBe(200);
    await eventually(async () => (await store.getDocument('later-1'))?.deleted);
    expect(await store.getDocument('later-1')).toMatchObject({ revId: del.body.rev, deleted: true });
    expect(repl.status).toMatchObject({ error: undefined, documentsPulled: 2 });
  });

  it("a user's continuous pull gets only its channels, and purges documents that leave them or whose access is revoked", async () => {
    const docs = [
      { _id: 'chan-a1', channels: ['a'], v: 1 },
      { _id: 'chan-a2', channels: ['a'], v: 2 },
      { _id: 'chan-a3', channels: ['a', 'keep'], v: 3 },
      { _id: 'chan-b1', channels: ['b'], v: 4 },
    ];
    const bulk = await request('POST', `${server.adminUrl}/db/_bulk_docs`, { docs });
    expect(bulk.status).toBe(201);
    const revs = new Map((bulk.body as { id: string; rev: string }[]).map((r) => [r.id, r.rev]));
    const store = new MemoryStore();
    const events: DocumentEvent[] = [];
    await using repl = new Replicator({ url: wsUrl(server.url), db: store, type: 'pull', continuous: true, auth: ALICE });
    repl.on('document', (e) => events.push(e));
    repl.start();
    await eventually(async () => store.docIds.length === 3);
    expect(store.docIds.sort()).toEqual(['chan-a1', 'chan-a2', 'chan-a3']);

    // The document leaves the user's channels: removed on the server's feed, purged here.
    const moved = await request('PUT', `${server.adminUrl}/db/chan-a1`, { _rev: revs.get('chan-a1'), channels: ['b'], v: 1 });
    expect(moved.status).toBe(201);
    await eventually(async () => !store.docIds.includes('chan-a1'));
    expect(events.filter((e) => e.purged).map((e) => e.docId)).toEqual(['chan-a1']);

    // The admin takes channel "a" away from the user: access revoked, the remaining "a" documents purged,
    // a document still readable through another channel kept.
    const user = await request('PUT', `${server.adminUrl}/db/_user/alice`, { password: ALICE.password, admin_channels: ['keep'] });
    expect(user.status).toBeLessThan(300);
    await eventually(async () => !store.docIds.includes('chan-a2'));
    expect(store.docIds.sort()).toEqual(['chan-a3']);
    // (The revocation may announce chan-a1 again, since it was in "a" before: purging nothing is harmless.)
    expect([...new Set(events.filter((e) => e.purged).map((e) => e.docId))].sort()).toEqual(['chan-a1', 'chan-a2']);
    expect(events.filter((e) => e.error)).toEqual([]);
    expect(repl.status.error).toBeUndefined();
    expect(['busy', 'idle']).toContain(repl.state);
  });

  it('a conflicting push fails only that document with 409, the replicator goes on, and a pull brings the server revision', async () => {
    const created = await request('POST', `${server.adminUrl}/db/_bulk_docs`, {
      docs: [
        { _id: 'conflict-1', channels: ['all'], v: 'original' },
        { _id: 'conflict-2', channels: ['all'], v: 'original' },
      ],
    });
    expect(created.status).toBe(201);
    const store = new MemoryStore();
    const opts = { url: wsUrl(server.url), db: store, auth: FULL, docIds: ['conflict-1', 'conflict-2', 'conflict-ok', 'conflict-later'] };
    await runOnce({ ...opts, type: 'pull' });
    const base1 = (await store.getDocument('conflict-1'))!.revId;
    const base2 = (await store.getDocument('conflict-2'))!.revId;

    // Another writer updates both on the server; the client edits them too (conflict-2 twice).
    const theirs1 = await request('PUT', `${server.adminUrl}/db/conflict-1`, { _rev: base1, channels: ['all'], v: 'server' });
    const theirs2 = await request('PUT', `${server.adminUrl}/db/conflict-2`, { _rev: base2, channels: ['all'], v: 'server' });
    expect([theirs1.status, theirs2.status]).toEqual([201, 201]);
    await store.put('conflict-1', { channels: ['all'], v: 'local' });
    await store.put('conflict-2', { channels: ['all'], v: 'local' });
    const mine2 = await store.put('conflict-2', { channels: ['all'], v: 'local again' });
    await store.put('conflict-ok', { channels: ['all'], v: 'new' });

    const events: DocumentEvent[] = [];
    await using push = new Replicator({ ...opts, type: 'push', continuous: true });
    push.on('document', (e) => events.push(e));
    push.start();
    await eventually(async () => events.length >= 3);
    expect(events.filter((e) => e.error).map((e) => [e.docId, e.error!.status]).sort()).toEqual([
      ['conflict-1', 409],
      ['conflict-2', 409],
    ]);
    expect(events.find((e) => e.docId === 'conflict-ok')?.error).toBeUndefined();
    // Still replicating: a later local write is pushed.
    await store.put('conflict-later', { channels: ['all'], v: 'later' });
    await eventually(async () => (await request('GET', `${server.adminUrl}/db/conflict-later`)).status === 200);
    expect(push.status.error).toBeUndefined();
    expect(['busy', 'idle']).toContain(push.state);
    await push.stop();

    // The pull resolves each conflict as Couchbase Lite's default resolver: the server's revision wins a tie
    // of generations (conflict-1); the local one wins when it is longer (conflict-2), as a new revision on
    // top of the server's, which the next push sends without conflict.
    await runOnce({ ...opts, type: 'pull' });
    const doc1 = (await store.getDocument('conflict-1'))!;
    expect(doc1).toMatchObject({ revId: theirs1.body.rev, body: { v: 'server' }, remoteRevId: theirs1.body.rev });
    const doc2 = (await store.getDocument('conflict-2'))!;
    expect(doc2.body).toMatchObject({ v: 'local again' });
    expect(doc2.history[0]).toBe(theirs2.body.rev);
    expect(doc2.revId).not.toBe(mine2);
    const pushed: DocumentEvent[] = [];
    await runOnce({ ...opts, type: 'push' }, pushed);
    expect(pushed.map((e) => [e.docId, e.error?.status])).toEqual([['conflict-2', undefined]]);
    const server2 = await request('GET', `${server.adminUrl}/db/conflict-2`);
    expect(server2.body).toMatchObject({ _rev: doc2.revId, v: 'local again' });
    await expectSameAsServerDocs(store, ['conflict-1', 'conflict-2', 'conflict-ok', 'conflict-later']);
  });

  it('resumes a pull and a push interrupted by a server restart from the checkpoint, without re-sending everything', async () => {
    const N = 3000;
    const databases = { db: {}, up: {} };
    let restartable = await startTestServer({ logLevel: 'warn', databases });
    const dir = restartable.dir;
    const port = new URL(restartable.url).port;
    try {
      for (let i = 0; i < N; i += 1000) {
        const docs = Array.from({ length: 1000 }, (_, j) => ({ _id: `r-${String(i + j).padStart(5, '0')}`, n: i + j, text: 'r'.repeat(200) }));
        expect((await request('POST', `${restartable.adminUrl}/db/_bulk_docs`, { docs })).status).toBe(201);
      }
      const restart = async (): Promise<void> => {
        restartable = await startTestServer({ logLevel: 'warn', databases, dir, extra: { interface: `127.0.0.1:${port}` } });
      };

      // Pull: revisions beyond the first 1,000 are held back until the server has been killed.
      const pullStore = new GatedStore((n) => n > 1000, 'insertRevision');
      const pullSessions: Traffic[] = [];
      const pullOptions: ReplicatorOptions = {
        url: wsUrl(restartable.url),
        db: pullStore,
        type: 'pull',
        connector: countingConnector(wsUrl(restartable.url), undefined, pullSessions),
        checkpointSaveDelayMs: 50,
        retry: { initialDelayMs: 100, maxDelayMs: 500 },
      };
      const pull = new Replicator(pullOptions);
      pull.start();
      // Every revision before the held-back ones is handled, so the saved checkpoint gets close to 1,000.
      await eventually(async () => pullStore.blocked > 0 && sequenceNumber((await savedCheckpoint(pullStore, pull.checkpointId))?.remote) >= 900);
      await restartable.stop('SIGKILL');
      await pull.waitFor((s) => s === 'offline');
      pullStore.release();
      const before = pullSessions.length;
      await restart();
      const pulled = await pull.whenStopped();
      expect(pulled.error).toBeUndefined();
      expect(pullStore.docIds.length).toBe(N);
      const after = pullSessions.slice(before);
      const revsAfter = total(after, (t) => t.received.get('rev') ?? 0);
      const announcedAfter = total(after, (t) => t.changesEntries);
      // Revisions already received before the kill are inserted from memory, so the resumed run may need none.
      expect(revsAfter).toBeLessThanOrEqual(N - 1000);
      // The resumed feed starts at the checkpoint, not at 0.
      expect(announcedAfter).toBeLessThan(N - 500);
      for (const id of ['r-00000', 'r-01499', `r-${String(N - 1).padStart(5, '0')}`]) {
        expect((await pullStore.getDocument(id))?.body).toMatchObject({ n: Number(id.slice(2)) });
      }

      // Push: the local changes feed stops after the first 1,000 documents until the server has been killed.
      const pushStore = new GatedStore((since) => since >= 1000, 'changesSince');
      for (let i = 0; i < N; i++) await pushStore.put(`p-${String(i).padStart(5, '0')}`, { n: i, text: 'p'.repeat(200) });
      const pushSessions: Traffic[] = [];
      const push = new Replicator({
        url: wsUrl(restartable.url, 'up'),
        db: pushStore,
        type: 'push',
        connector: countingConnector(wsUrl(restartable.url, 'up'), undefined, pushSessions),
        checkpointSaveDelayMs: 50,
        retry: { initialDelayMs: 100, maxDelayMs: 500 },
      });
      push.start();
      await eventually(async () => pushStore.blocked > 0 && ((await savedCheckpoint(pushStore, push.checkpointId))?.local ?? 0) >= 1000);
      await restartable.stop('SIGKILL');
      await push.waitFor((s) => s === 'offline');
      pushStore.release();
      const pushBefore = pushSessions.length;
      await restart();
      const pushed = await push.whenStopped();
      expect(pushed.error).toBeUndefined();
      const pushAfter = pushSessions.slice(pushBefore);
      expect(total(pushAfter, (t) => t.proposedEntries)).toBeLessThanOrEqual(N - 1000);
      expect(total(pushAfter, (t) => t.sent.get('rev') ?? 0)).toBeLessThanOrEqual(N - 1000);
      const all = await request('GET', `${restartable.adminUrl}/up/_all_docs`);
      expect(all.body.rows.length).toBe(N);
    } finally {
      await restartable.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
