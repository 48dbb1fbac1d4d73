import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../../../../../test/support/postgres.ts';
import { isSynclineError } from '../../base/errors.ts';
import type { BucketEvent, MutationRecord } from '../bucket.ts';
import { save, sleep } from '../contract-support.ts';
import { partitionOf } from '../sqlite/partition.ts';
import { openPostgresBucket } from './postgres-bucket.ts';

let server: TestPostgres;
let dbUrl = '';

beforeAll(async () => {
  server = await startPostgres();
  dbUrl = await server.createDatabase('syncline_ordering');
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('postgres partition function', () => {
  it('gives exactly what partitionOf gives, for any id', async () => {
    const bucket = await openPostgresBucket(dbUrl, { schema: 'partition_fn', poolSize: 2 });
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    try {
      const check = async (ids: string[], partitions: number): Promise<void> => {
        const { rows } = await client.query<{ id: string; p: number }>(
          'SELECT x.id, partition_fn.syncline_partition(x.id, $2) AS p FROM unnest($1::text[]) WITH ORDINALITY AS x(id, n) ORDER BY n',
          [ids, partitions],
        );
        expect(rows.map((r) => r.p)).toEqual(ids.map((id) => partitionOf(id, partitions)));
        // What PostgreSQL stored (lone surrogates become U+FFFD) hashes like the id given.
        expect(rows.map((r) => partitionOf(r.id, partitions))).toEqual(ids.map((id) => partitionOf(id, partitions)));
      };
      await check(['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'é', '\u{1F600}', 'x\u{1F600}y', 'doc-1', 'doc-2', 'lone\uD800', '\uDC00', '\u{10FFFF}'.repeat(3)], 16);
      const id = fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 12 }),
        fc.string({ unit: 'binary', maxLength: 12 }),
        fc.string({ maxLength: 40 }),
        fc.string({ unit: fc.constantFrom('a', 'é', '\u{1F600}', '-', '0', '\uFFFF', '\u0800'), maxLength: 9 }),
      ).filter((s) => !s.includes('\u0000'));
      await fc.assert(
        fc.asyncProperty(fc.array(id, { maxLength: 200 }), fc.integer({ min: 1, max: 1024 }), async (ids, partitions) => check(ids, partitions)),
        { numRuns: 60 },
      );
    } finally {
      await client.end();
      await bucket.close();
    }
  });
});

describe('postgres mutation log ordering', () => {
  it('never lets a reader skip a committed write, whatever order writers commit in', async () => {
    const schema = 'ordering';
    const bucket = await openPostgresBucket(dbUrl, { schema, poolSize: 4 });
    const coll = await bucket.collection();
    const partitions = bucket.partitions;
    const committed = new Map<string, number>();
    const count = (key: string): void => void committed.set(key, (committed.get(key) ?? 0) + 1);

    const hot = ['hot-0', 'hot-1', 'hot-2', 'hot-3'];
    const setup = new pg.Client({ connectionString: dbUrl });
    await setup.connect();
    await setup.query(`SET search_path TO ${schema}`);
    for (const id of hot) {
      const { rows } = await setup.query<{ cas: string }>(`INSERT INTO documents (id, body) VALUES ($1, '{}') RETURNING cas`, [id]);
      count(`${id}|${rows[0]?.cas}`);
    }
    await setup.end();

    let writing = true;
    const seen = new Map<string, number>();
    const byId = new Map<string, number[]>();
    const record = (m: MutationRecord): void => {
      const key = m.op === 'delete' ? `${m.id}|delete` : `${m.id}|${m.cas}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (m.cas !== null) byId.set(m.id, [...(byId.get(m.id) ?? []), m.cas]);
    };
    const reader = (async () => {
      const cursors = new Array<number>(partitions).fill(0);
      let quietRounds = 0;
      while (writing || quietRounds < 2) {
        let got = 0;
        for (let p = 0; p < partitions; p++) {
          const entries = await coll.readMutations(p, cursors[p] ?? 0, 50);
          for (const m of entries) {
            expect(m.partition).toBe(p);
            expect(m.position).toBeGreaterThan(cursors[p] ?? 0);
            cursors[p] = m.position;
            record(m);
          }
          got += entries.length;
        }
        quietRounds = !writing && got === 0 ? quietRounds + 1 : 0;
        await sleep(3);
      }
    })();

    const writer = async (w: number): Promise<void> => {
      const client = new pg.Client({ connectionString: dbUrl });
      client.on('error', () => {});
      await client.connect();
      await client.query(`SET search_path TO ${schema}`);
      const live = new Set<string>();
      try {
        for (let t = 0; t < 20; t++) {
          const pending: string[] = [];
          const nextLive = new Set(live);
          try {
            await client.query('BEGIN');
            const ops = 1 + Math.floor(Math.random() * 4);
            for (let o = 0; o < ops; o++) {
              const id = Math.random() < 0.15 ? (hot[Math.floor(Math.random() * hot.length)] ?? 'hot-0') : `w${w}-${Math.floor(Math.random() * 8)}`;
              if (id.startsWith('hot-')) {
                const { rows } = await client.query<{ cas: string }>(`UPDATE documents SET body = jsonb_build_object('w', $2::int) WHERE id = $1 RETURNING cas`, [id, w]);
                pending.push(`${id}|${rows[0]?.cas}`);
              } else if (!nextLive.has(id)) {
                const { rows } = await client.query<{ cas: string }>(`INSERT INTO documents (id, body) VALUES ($1, $2) RETURNING cas`, [id, JSON.stringify({ t })]);
                pending.push(`${id}|${rows[0]?.cas}`);
                nextLive.add(id);
              } else if (Math.random() < 0.5) {
                const { rows } = await client.query<{ cas: string }>(`UPDATE documents SET body = $2 WHERE id = $1 RETURNING cas`, [id, JSON.stringify({ t, o })]);
                pending.push(`${id}|${rows[0]?.cas}`);
              } else {
                await client.query('DELETE FROM documents WHERE id = $1', [id]);
                pending.push(`${id}|delete`);
                nextLive.delete(id);
              }
              if (Math.random() < 0.25) await sleep(50 + Math.random() * 250);
            }
            if (Math.random() < 0.1) {
              await client.query('ROLLBACK');
              continue;
            }
            await client.query('COMMIT');
          } catch {
            // Deadlock between hot rows: the transaction is rolled back and nothing of it counts.
            await client.query('ROLLBACK').catch(() => {});
            continue;
          }
          for (const key of pending) count(key);
          live.clear();
          for (const id of nextLive) live.add(id);
        }
      } finally {
        await client.end();
      }
    };

    await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
    writing = false;
    await reader;
    await bucket.close();

    const sortEntries = (m: Map<string, number>): [string, number][] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    expect(committed.size).toBeGreaterThan(100);
    expect(sortEntries(seen)).toEqual(sortEntries(committed));
    // Per document, the reader saw the writes in the order they were made.
    for (const [id, cas] of byId) expect([id, ...cas]).toEqual([id, ...[...cas].sort((a, b) => a - b)]);
  });
});

// Last in this file: it stops and restarts the server.
describe('postgres outage', () => {
  it('reports 503 while the server is down and recovers by itself, telling watchers to resync', async (ctx) => {
    if (!server.embedded) return ctx.skip();
    const bucket = await openPostgresBucket(dbUrl, { schema: 'outage', poolSize: 3 });
    const coll = await bucket.collection();
    const events: BucketEvent[] = [];
    bucket.watch((e) => events.push(e));
    await bucket.listening();
    await save(coll, 'before');
    await server.stop();
    try {
      const failures = await Promise.all([
        coll.get('before').catch((err: unknown) => err),
        bucket.setRecord('k', 'v').catch((err: unknown) => err),
        save(coll, 'during').catch((err: unknown) => err),
      ]);
      for (const err of failures) {
        expect(isSynclineError(err) && err.status === 503 && err.error === 'service_unavailable').toBe(true);
        expect(String((err as Error).message)).toMatch(/storage unreachable: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+/);
        expect(String((err as Error).message)).not.toContain('syncline-test');
      }
    } finally {
      await server.start();
    }
    const until = Date.now() + 15_000;
    for (;;) {
      try {
        await save(coll, 'after');
        break;
      } catch (err) {
        if (Date.now() > until) throw err;
        await sleep(100);
      }
    }
    expect((await coll.get('before'))?.body).toBe('{"id":"before"}');
    while (!events.some((e) => e.kind === 'resync')) {
      if (Date.now() > until) throw new Error('no resync event');
      await sleep(50);
    }
    await bucket.close();
  });
});
