import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../support/crash-writers.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { eventually, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

/**
 * The ordering rule on PostgreSQL: transactions commit in another order than they took their positions, yet
 * neither the import (mutation log) nor a `_changes` follower (gateway sequences) may skip a committed write.
 */

const WRITERS = 16;
const WRITES = 20_000;
const GATEWAY_DOCS = 1_000;

interface Expected {
  writes: number;
  /** Last committed state: the body's n, or null when the row was deleted. */
  n: number | null;
}

interface Seen {
  seq: number;
  id: string;
  rev: string;
}

let pgs: TestPostgres;
let server: TestServer;
let dbUrl: string;

beforeAll(async () => {
  pgs = await startPostgres();
  dbUrl = await pgs.createDatabase('ordering');
  server = await startTestServer({ logLevel: 'warn', databases: { db: { server: dbUrl, enable_shared_bucket_access: true } } });
});

afterAll(async () => {
  await server?.stop();
  await pgs?.close();
});

/** Follows `_changes` with longpolls from 0, as a client would, until stopped; returns every entry it got. */
function follow(url: string): { seen: Seen[]; stop: () => void; done: Promise<Seen[]> } {
  let stopped = false;
  const seen: Seen[] = [];
  const done = (async () => {
    let since = 0;
    while (!stopped) {
      const res = await request('GET', `${url}/db/_changes?feed=longpoll&since=${since}&timeout=500&limit=2000`);
      if (res.status !== 200) throw new Error(`_changes answered ${res.status}`);
      for (const entry of res.body.results as Array<{ seq: number; id: string; changes: Array<{ rev: string }> }>) {
        seen.push({ seq: entry.seq, id: entry.id, rev: entry.changes[0]!.rev });
      }
      since = res.body.last_seq;
    }
    return seen;
  })();
  return { seen, stop: () => (stopped = true), done };
}

/** One writer connection: transactions of 1–8 statements on its own documents, a tenth held open 50–300 ms. */
async function writer(index: number, writes: number, expected: Map<string, Expected>): Promise<void> {
  const random = prng(1000 + index);
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  const live: string[] = [];
  let created = 0;
  try {
    let done = 0;
    while (done < writes) {
      const statements = Math.min(writes - done, 1 + Math.floor(random() * 8));
      const long = random() < 0.1;
      const changes = new Map<string, Expected>();
      await client.query('BEGIN');
      for (let s = 0; s < statements; s++) {
        const roll = random();
        if (live.length === 0 || roll < 0.4) {
          const id = `w${index}-${created++}`;
          await client.query('INSERT INTO db.documents (id, body) VALUES ($1, $2)', [id, { writer: index, n: 1 }]);
          live.push(id);
          changes.set(id, { writes: (changes.get(id)?.writes ?? expected.get(id)?.writes ?? 0) + 1, n: 1 });
        } else {
          const at = Math.floor(random() * live.length);
          const id = live[at]!;
          const before = changes.get(id) ?? expected.get(id)!;
          if (roll < 0.8) {
            const n = (before.n ?? 0) + 1;
            await client.query(`UPDATE db.documents SET body = jsonb_set(body, '{n}', to_jsonb($2::int)) WHERE id = $1`, [id, n]);
            changes.set(id, { writes: before.writes + 1, n });
          } else {
            await client.query('DELETE FROM db.documents WHERE id = $1', [id]);
            live.splice(at, 1);
            changes.set(id, { writes: before.writes + 1, n: null });
          }
        }
      }
      if (long) await new Promise((r) => setTimeout(r, 50 + random() * 250));
      await client.query('COMMIT');
      for (const [id, state] of changes) expected.set(id, state);
      done += statements;
    }
  } finally {
    await client.end();
  }
}

describe('PostgreSQL ordering rule', () => {
  it(`imports all of ${WRITES} mixed writes by ${WRITERS} writers committing out of order, and a _changes follower misses no sequence`, async () => {
    const expected = new Map<string, Expected>();
    const follower = follow(server.adminUrl);
    const gateway = (async () => {
      for (let i = 0; i < GATEWAY_DOCS; i += 100) {
        const docs = Array.from({ length: 100 }, (_, j) => ({ _id: `gw-${i + j}`, n: i + j }));
        const res = await request('POST', `${server.adminUrl}/db/_bulk_docs`, { docs });
        expect(res.status).toBe(201);
      }
    })();
    const per = WRITES / WRITERS;
    await Promise.all([gateway, ...Array.from({ length: WRITERS }, (_, i) => writer(i, per, expected))]);
    expect([...expected.values()].reduce((sum, e) => sum + e.writes, 0)).toBe(WRITES);

    // Everything committed is imported: each document's final state is what the gateway serves.
    const liveIds = [...expected].filter(([, e]) => e.n !== null).map(([id]) => id);
    // Wait for the import to have handled every logged write (not just the inserts), so that the feed read
    // below is not racing the last updates.
    await eventually(async () => {
      const status = await request('GET', `${server.adminUrl}/db/_import/status`);
      if (status.status !== 200 || status.body.pending !== 0) return false;
      const all = await request('GET', `${server.adminUrl}/db/_all_docs?limit=0`);
      return all.body.total_rows === liveIds.length + GATEWAY_DOCS;
    }, 60_000, 200);
    const feed = await request('GET', `${server.adminUrl}/db/_changes?since=0&include_docs=true`);
    const latest = new Map<string, { seq: number; rev: string; deleted: boolean; doc: { n?: number } }>();
    for (const entry of feed.body.results) {
      expect(latest.has(entry.id)).toBe(false);
      latest.set(entry.id, { seq: entry.seq, rev: entry.changes[0].rev, deleted: entry.deleted === true, doc: entry.doc });
    }
    for (const [id, state] of expected) {
      const change = latest.get(id);
      if (state.n === null) {
        // Inserted and deleted before the importer looked: there may be nothing to announce.
        if (change) expect(change.deleted, id).toBe(true);
        continue;
      }
      expect(change, id).toBeDefined();
      expect(change!.deleted, id).toBe(false);
      expect(change!.doc.n, id).toBe(state.n);
      // Never imported twice: at most one revision per write (rapid writes may be imported together).
      expect(Number(change!.rev.split('-')[0]), id).toBeLessThanOrEqual(state.writes);
    }
    for (let i = 0; i < GATEWAY_DOCS; i++) expect(latest.get(`gw-${i}`)?.doc.n).toBe(i);

    // The follower, reading while transactions committed out of order, saw every document's final sequence.
    const lastSeq = Math.max(...[...latest.values()].map((c) => c.seq));
    await eventually(async () => follower.seen.some((s) => s.seq >= lastSeq), 30_000);
    follower.stop();
    const seen = await follower.done;
    const seenSeqs = new Set(seen.map((s) => s.seq));
    const missed = [...latest].filter(([, c]) => !seenSeqs.has(c.seq)).map(([id, c]) => `${id}@${c.seq}`);
    expect(missed).toEqual([]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.seq).toBeGreaterThan(seen[i - 1]!.seq);
  });
});
