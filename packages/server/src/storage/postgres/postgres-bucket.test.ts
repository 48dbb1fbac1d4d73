import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startPostgres, type TestPostgres } from '../../../../../test/support/postgres.ts';
import { isSynclineError } from '../../base/errors.ts';
import type { Bucket, BucketEvent } from '../bucket.ts';
import { runBucketContract, type DirectWriter } from '../contract.ts';
import { makeCommit, mutationsOf, save, sleep } from '../contract-support.ts';
import { openBucket } from '../open.ts';
import { PG_MIGRATIONS } from './migrations.ts';
import { compactJsonb } from './postgres-collection.ts';
import { openPostgresBucket, type PostgresBucket } from './postgres-bucket.ts';

let server: TestPostgres;
let dbUrl = '';
let counter = 0;
const schemas = new WeakMap<Bucket, string>();

beforeAll(async () => {
  server = await startPostgres();
  dbUrl = await server.createDatabase('syncline_bucket');
}, 120_000);

afterAll(async () => {
  await server?.close();
});

const freshSchema = (): string => `s_${process.pid}_${++counter}`;

async function makeBucket(): Promise<Bucket> {
  const schema = freshSchema();
  const bucket = await openPostgresBucket(dbUrl, { schema, poolSize: 4 });
  schemas.set(bucket, schema);
  return bucket;
}

/** A server app: its own plain connection, only INSERT/UPDATE/DELETE on `documents`. */
async function directWriter(bucket: Bucket): Promise<DirectWriter> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  await client.query(`SET search_path TO "${schemas.get(bucket) ?? 'public'}"`);
  return {
    insert: async (id, body) => void (await client.query('INSERT INTO documents (id, body) VALUES ($1, $2)', [id, body])),
    update: async (id, body) => void (await client.query('UPDATE documents SET body = $1 WHERE id = $2', [body, id])),
    delete: async (id) => void (await client.query('DELETE FROM documents WHERE id = $1', [id])),
    close: async () => client.end(),
  };
}

runBucketContract('postgres', makeBucket, { directWriter });

const waitFor = async (check: () => boolean, ms = 3000): Promise<void> => {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(10);
  }
};

describe('postgres bucket', () => {
  it('applies migrations once, keeps data and the stored partition count across reopen', async () => {
    const schema = freshSchema();
    const first = await openPostgresBucket(dbUrl, { schema, partitions: 8 });
    expect(first.partitions).toBe(8);
    const saved = await save(await first.collection(), 'a', { channels: ['x'] });
    await first.setRecord('r', 'v');
    await first.close();
    const rows = async (): Promise<unknown[]> => server.query(dbUrl, `SELECT id, applied_at FROM "${schema}".schema_migrations ORDER BY id`);
    const before = await rows();
    expect(before).toHaveLength(PG_MIGRATIONS.length);
    const second = await openPostgresBucket(dbUrl, { schema, partitions: 32 });
    expect(second.partitions).toBe(8);
    const coll = await second.collection();
    expect((await coll.get('a'))?.metaCas).toBe(saved.metaCas);
    expect((await coll.readChanges({ since: 0, channels: ['x'] })).map((c) => c.id)).toEqual(['a']);
    expect((await second.getRecord('r'))?.value).toBe('v');
    expect(await second.lastSequence()).toBe(saved.seq);
    expect((await save(coll, 'b')).seq).toBe(saved.seq + 1);
    await second.close();
    expect(await rows()).toEqual(before);
  });

  it('lets several nodes open a new schema at once', async () => {
    const schema = freshSchema();
    const buckets = await Promise.all(Array.from({ length: 5 }, () => openPostgresBucket(dbUrl, { schema, poolSize: 2 })));
    try {
      expect(buckets.map((b) => b.partitions)).toEqual([16, 16, 16, 16, 16]);
      const colls = await Promise.all(buckets.map((b) => b.collection('shop.orders')));
      await save(colls[0]!, 'o1');
      expect((await colls[4]!.get('o1'))?.body).toBe('{"id":"o1"}');
      const migrations = await server.query(dbUrl, `SELECT count(*)::int AS n FROM "${schema}".schema_migrations`);
      expect(migrations).toEqual([{ n: PG_MIGRATIONS.length }]);
    } finally {
      await Promise.all(buckets.map((b) => b.close()));
    }
  });

  it('exposes documents(id text, body jsonb, cas bigint) that apps write with plain SQL', async () => {
    const bucket = await makeBucket();
    const schema = schemas.get(bucket) ?? '';
    const coll = await bucket.collection();
    const columns = await server.query(
      dbUrl,
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'documents' ORDER BY ordinal_position`,
      [schema],
    );
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'text' },
      { column_name: 'body', data_type: 'jsonb' },
      { column_name: 'cas', data_type: 'bigint' },
    ]);
    await server.query(dbUrl, `INSERT INTO "${schema}".documents (id, body) VALUES ('a', '{"x": 1, "s": "a b: c, d"}')`);
    await server.query(dbUrl, `INSERT INTO "${schema}".documents (id, body, cas) VALUES ('b', '[1, {"y": null}]', 12345)`);
    const a = await coll.get('a');
    expect(a?.body).toBe('{"s":"a b: c, d","x":1}');
    expect((await coll.get('b'))?.body).toBe('[1,{"y":null}]');
    expect((await coll.get('b'))?.bodyCas).not.toBe(12345);
    await server.query(dbUrl, `UPDATE "${schema}".documents SET id = 'c' WHERE id = 'a'`);
    expect((await mutationsOf(bucket, coll, 'a')).map((m) => m.op)).toEqual(['insert', 'delete']);
    expect((await mutationsOf(bucket, coll, 'c')).map((m) => m.op)).toEqual(['insert']);
    await bucket.close();
  });

  it('turns an insert that meets a concurrent app insert into a cas mismatch for that write only', async () => {
    const bucket = await makeBucket();
    const schema = schemas.get(bucket) ?? '';
    const coll = await bucket.collection();
    const app = new pg.Client({ connectionString: dbUrl });
    await app.connect();
    try {
      await app.query('BEGIN');
      await app.query(`INSERT INTO "${schema}".documents (id, body) VALUES ('race', '{"app":true}')`);
      const before = await bucket.lastSequence();
      const pending = coll.commitMany([
        makeCommit('race', { expectedBodyCas: null, expectedMetaCas: null }),
        makeCommit('calm', { expectedBodyCas: null, expectedMetaCas: null }),
      ]);
      await sleep(150);
      await app.query('COMMIT');
      const [race, calm] = await pending;
      expect(race).toEqual({ ok: false, reason: 'cas_mismatch' });
      expect(calm?.ok && calm.seq).toBe(before + 1);
      expect(await coll.get('race')).toMatchObject({ body: '{"app":true}', meta: null, metaCas: null });
      expect(await bucket.lastSequence()).toBe(before + 1);
      expect(await coll.countLive()).toBe(1);
    } finally {
      await app.end();
      await bucket.close();
    }
  });

  it('compacts jsonb text without touching strings', () => {
    expect(compactJsonb('{"a": "x \\" y", "b": [1, 2.50, {"c": "\\\\ "}]}')).toBe('{"a":"x \\" y","b":[1,2.50,{"c":"\\\\ "}]}');
    expect(compactJsonb('"plain"')).toBe('"plain"');
  });

  it('delivers sequence, mutation and record events from another bucket instance (another node)', async () => {
    const schema = freshSchema();
    const watcher = await openPostgresBucket(dbUrl, { schema, poolSize: 2 });
    const writer = await openPostgresBucket(dbUrl, { schema, poolSize: 2 });
    try {
      const events: BucketEvent[] = [];
      const stop = watcher.watch((e) => events.push(e));
      await watcher.listening();
      const saved = await save(await writer.collection(), 'n1');
      await writer.setRecord('_sync:user:bob', '{}');
      const seqRecord = await writer.setRecordAtSequence('_sync:role:r', 0, (seq) => String(seq));
      await writer.deleteRecord('_sync:user:bob');
      await server.query(dbUrl, `INSERT INTO "${schema}".documents (id, body) VALUES ('app', '{}')`);
      await waitFor(() => events.filter((e) => e.kind === 'mutations').length >= 2 && events.some((e) => e.kind === 'record' && e.key === '_sync:user:bob') && events.some((e) => e.kind === 'sequence' && e.seq === seqRecord?.seq));
      expect(events).toContainEqual({ kind: 'sequence', seq: saved.seq });
      expect(events).toContainEqual({ kind: 'record', key: '_sync:role:r' });
      expect(events.filter((e) => e.kind === 'record' && e.key === '_sync:user:bob')).toHaveLength(2);

      // Local writes are delivered once (not again through the notification loopback).
      const local: BucketEvent[] = [];
      const stopLocal = writer.watch((e) => local.push(e));
      await (writer as PostgresBucket).listening();
      const own = await save(await writer.collection(), 'n2');
      expect(local).toEqual([{ kind: 'mutations' }, { kind: 'sequence', seq: own.seq }]);
      await sleep(200);
      expect(local).toHaveLength(2);
      stopLocal();
      stop();
      const count = events.length;
      await save(await writer.collection(), 'n3');
      await sleep(200);
      expect(events).toHaveLength(count);
    } finally {
      await watcher.close();
      await writer.close();
    }
  });

  it('works in a schema whose name needs quoting, with a long one hashed into the notification channel', async () => {
    for (const schema of [`We"ird Schema ${counter++}`, `long_${'x'.repeat(50)}_${counter++}`]) {
      const watcher = await openPostgresBucket(dbUrl, { schema, poolSize: 2 });
      const writer = await openPostgresBucket(dbUrl, { schema, poolSize: 2 });
      try {
        const events: BucketEvent[] = [];
        watcher.watch((e) => events.push(e));
        await watcher.listening();
        const saved = await save(await writer.collection('shop.orders'), 'o1', { channels: ['c'] });
        await waitFor(() => events.some((e) => e.kind === 'sequence' && e.seq === saved.seq));
        expect((await (await watcher.collection('shop.orders')).readChanges({ since: 0, channels: ['c'] })).map((c) => c.id)).toEqual(['o1']);
      } finally {
        await watcher.close();
        await writer.close();
      }
    }
  });

  it('reads expiry with the database clock', async () => {
    const bucket = await makeBucket();
    const schema = schemas.get(bucket) ?? '';
    // A record whose expiry the database clock has passed, whatever this process's clock says.
    await bucket.setRecord('lease', 'x', { ttlMs: 60_000 });
    await server.query(dbUrl, `UPDATE "${schema}".records SET expires_at = floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint - 1`);
    expect(await bucket.getRecord('lease')).toBeNull();
    const replaced = await bucket.setRecord('lease', 'y', { expectedVersion: 0 });
    expect(replaced?.version).toBe(2);
    await bucket.close();
  });

  it('rejects a wrong password, an unknown database and an unreachable server with clear errors', async () => {
    const failure = async (url: string): Promise<Error> =>
      openPostgresBucket(url, { schema: 'x', connectTimeoutMs: 3000 }).then(
        () => {
          throw new Error('opened');
        },
        (err: unknown) => err as Error,
      );
    const bad = new URL(dbUrl);
    bad.password = 'wrong-secret-pw';
    const auth = await failure(bad.toString());
    expect(auth.message).toMatch(/PostgreSQL authentication failed for user "postgres"/);
    expect(auth.message).not.toContain('wrong-secret-pw');

    const missing = new URL(dbUrl);
    missing.pathname = '/no_such_database';
    expect((await failure(missing.toString())).message).toMatch(/PostgreSQL database "no_such_database" does not exist/);

    const port = await freePort();
    const down = await failure(`postgres://user:top-secret@127.0.0.1:${port}/db`);
    expect(down.message).toBe(`cannot connect to PostgreSQL at 127.0.0.1:${port}: ECONNREFUSED`);
    expect(isSynclineError(down) && down.status === 503).toBe(true);
    expect(String(down)).not.toContain('top-secret');
  });

  it('opens through openBucket with a schema', async () => {
    const schema = freshSchema();
    await using bucket = await openBucket(dbUrl, { schema, poolSize: 2 });
    expect(bucket.engine).toBe('postgres');
    expect(bucket.partitions).toBe(16);
    const result = await (await bucket.collection()).commit(makeCommit('a', { expectedBodyCas: null, expectedMetaCas: null }));
    expect(result.ok).toBe(true);
    const tables = await server.query(dbUrl, `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'documents'`, [schema]);
    expect(tables).toEqual([{ n: 1 }]);
  });
});
