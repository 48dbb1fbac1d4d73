/**
 * Syncline-only section: replication of documents that each carry one incompressible blob (~100 KB of
 * pseudo-random bytes, content_type image/jpeg), over BLIP (`/{db}/_blipsync`, `@syncline/client` Replicator +
 * MemoryStore, as GUEST on the public API) and, for the ratio, over REST into a PouchDB memory database.
 *
 *  - BLIP pull: a database loaded over the admin API (`_bulk_docs` with inline base64 `_attachments`, not
 *    measured) pulled one-shot into a fresh MemoryStore; the replicator fetches each blob with `getAttachment`.
 *  - REST pull: one-shot `PouchDB.replicate` of the same database into a memory db, in the same round.
 *  - BLIP push: a MemoryStore whose docs each hold an inline `{"@type":"blob"}` dictionary pushed one-shot into
 *    a fresh database.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { MemoryStore, Replicator, blobDigest, type JsonObject } from '@syncline/client';
import { collectGarbage } from '../gc.ts';
import { postBulkDocs, type HttpClient } from '../http-client.ts';
import { memoryDatabase, replicate } from '../pouchdb-client.ts';
import { median, throughputLines } from '../report.ts';
import type { Settings } from '../settings.ts';
import type { HttpTarget } from '../targets/types.ts';
import { ROWS, databaseMaker, docCount, runOnce, type Row } from './blip-common.ts';
import { Progress, batches, type Log, type Measurement, type SynclineSection } from './common.ts';

const PULL_DB = 'blobs_pull';
const WARM_DB = 'blobs_warm';
const PUSH_PREFIX = 'blobs_push';
const CONTENT_TYPE = 'image/jpeg';
const ATTACHMENT_NAME = 'photo.jpg';
const WARM_UP_DOCS = 10;
/** Documents per `_bulk_docs` request when loading (each carries its blob as ~1.33x its size in base64). */
const LOAD_BATCH = 20;
/** Offsets into the blob generator, so pulled, pushed and warm-up blobs never share a digest. */
const PULL_OFFSET = 0;
const WARM_OFFSET = 1_000_000;
const PUSH_OFFSET = 2_000_000;
const PUSH_ROUND_STRIDE = 100_000;
/** A one-shot replication with no completed document for this long is stopped and reported as failed. */
const STALL_MS = 20_000;


const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const int = (x: number): string => Math.round(x).toLocaleString('en-US');

/**
 * Deterministic incompressible bytes: AES-128-CTR keystream, the key from the seed and the counter block from
 * the blob's index, so the same seed and index always give the same blob.
 */
function makeBlob(seed: number, index: number, bytes: number): Buffer {
  const key = createHash('sha256').update(`syncline-bench-blob-${seed}`).digest().subarray(0, 16);
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(index >>> 0, 0);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  return Buffer.concat([cipher.update(Buffer.alloc(bytes)), cipher.final()]);
}

export function blipBlobsSection(settings: Settings): SynclineSection {
  const count = settings.blobs.docs;
  const blobBytes = settings.blobs.blobBytes;
  const rows = new Map<Row, Measurement[]>();
  const errors = new Map<Row, string>();
  let round = 0;
  let prepared = false;

  const add = (key: Row, m: Measurement): void => void rows.set(key, [...(rows.get(key) ?? []), m]);
  const fail = (key: Row, error: string): void => void (errors.has(key) || errors.set(key, error));
  const blob = (index: number): Buffer => makeBlob(settings.seed, index, blobBytes);

  const ensureDb = databaseMaker('syncline-bench-blobs-');

  /** The digests of the blobs of docs `offset .. offset + n - 1`, in order. */
  function digests(n: number, offset: number): string[] {
    return Array.from({ length: n }, (_, i) => blobDigest(blob(offset + i)));
  }

  /** Loads `n` docs, each with its blob as an inline base64 `_attachments` entry, over the admin API. */
  async function load(admin: HttpClient, db: string, n: number, offset: number, log: Log | undefined): Promise<void> {
    const loading = new Progress(log ?? (() => {}), `loading /${db} with ${int(blobBytes / 1024)} KiB blobs over the admin API (not measured)`, n);
    let done = 0;
    for (const group of batches(Array.from({ length: n }, (_, i) => i), LOAD_BATCH)) {
      const docs = group.map((i) => ({
        _id: `${db}-${i}`,
        type: 'photo',
        n: i,
        _attachments: { [ATTACHMENT_NAME]: { content_type: CONTENT_TYPE, data: blob(offset + i).toString('base64') } },
      }));
      await postBulkDocs(admin, db, docs);
      done += group.length;
      loading.update(done);
    }
    loading.finish(done);
  }

  /** Makes sure `db` holds exactly the expected docs (loading it when empty); returns the blobs' digests. */
  async function preparePullDb(admin: HttpClient, db: string, n: number, offset: number, log: Log | undefined): Promise<string[]> {
    const existing = await ensureDb(admin, db);
    if (existing === 0) await load(admin, db, n, offset, log);
    else if (existing !== n) throw new Error(`/${db} holds ${existing} docs, expected 0 or ${n}: delete it or use another BENCH_SCALE`);
    else log?.(`/${db} already holds ${int(n)} docs, reused`);
    return digests(n, offset);
  }

  async function blipPull(target: HttpTarget, db: string, expectedDigests: readonly string[], log: Log | undefined): Promise<Measurement> {
    const n = expectedDigests.length;
    const store = new MemoryStore();
    const progress = new Progress(log ?? (() => {}), `BLIP pull /${db} (docs with blobs)`, n);
    const repl = new Replicator({ url: `${target.client.baseUrl}/${db}`, db: store, type: 'pull' });
    const done = await runOnce(repl, progress, n, STALL_MS);
    const measured = progress.finish(done);
    if (store.docIds.length !== n) throw new Error(`MemoryStore holds ${store.docIds.length} docs after the pull, expected ${n}`);
    for (const [i, digest] of expectedDigests.entries()) {
      const data = await store.getBlob(digest);
      if (!data) throw new Error(`the blob of ${db}-${i} (${digest}) is not in the MemoryStore after the pull`);
      if (data.length !== blobBytes) throw new Error(`the blob of ${db}-${i} has ${data.length} bytes in the MemoryStore, expected ${blobBytes}`);
    }
    return measured;
  }

  async function restPull(target: HttpTarget, db: string, n: number, log: Log | undefined): Promise<Measurement> {
    const local = memoryDatabase('bench-blobs-rest');
    try {
      const progress = new Progress(log ?? (() => {}), `REST pull /${db} (PouchDB, docs with attachments)`, n);
      const replication = replicate(`${target.client.baseUrl}/${db}`, local);
      replication.on('change', (info) => progress.update(info.docs_written));
      const result = await replication;
      if (!result.ok || result.doc_write_failures > 0) throw new Error(`replication failed: ${JSON.stringify(result).slice(0, 300)}`);
      const measured = progress.finish(result.docs_written);
      const { doc_count } = await local.info();
      if (doc_count !== n) throw new Error(`PouchDB memory db has ${doc_count} docs after the pull, expected ${n}`);
      return measured;
    } finally {
      await local.destroy();
    }
  }

  /** Fetches an attachment's bytes on the admin API (the keep-alive client reads text only). */
  async function attachmentBytes(admin: HttpClient, db: string, docId: string, name: string): Promise<Buffer> {
    const url = `${admin.baseUrl}/${db}/${encodeURIComponent(docId)}/${name.split('/').map(encodeURIComponent).join('%2F')}`;
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return Buffer.from(await res.arrayBuffer());
  }

  /** Checks over REST that the pushed doc `docId` has an attachment whose bytes are exactly `expected`. */
  async function verifyPushedBlob(admin: HttpClient, db: string, docId: string, expected: Buffer): Promise<void> {
    const res = await admin.json<{ _attachments?: Record<string, { digest?: string; length?: number }> }>('GET', `/${db}/${encodeURIComponent(docId)}`);
    if (res.status !== 200) throw new Error(`GET /${db}/${docId}: HTTP ${res.status}`);
    const digest = blobDigest(expected);
    const entries = Object.entries(res.data._attachments ?? {});
    const found = entries.find(([, meta]) => meta.digest === digest);
    if (!found) throw new Error(`/${db}/${docId} has no attachment with the pushed blob's digest (attachments: ${entries.map(([name]) => name).join(', ') || 'none'})`);
    const bytes = await attachmentBytes(admin, db, docId, found[0]);
    if (!bytes.equals(expected)) throw new Error(`attachment ${found[0]} of /${db}/${docId}: ${bytes.length} bytes that differ from the pushed ${expected.length}`);
  }

  async function blipPush(target: HttpTarget, admin: HttpClient, base: string, n: number, offset: number, log: Log | undefined): Promise<Measurement> {
    let db = base;
    for (let k = 1; (await admin.request('GET', `/${db}/`)).status !== 404; k++) db = `${base}_${k}`;
    await ensureDb(admin, db);
    const store = new MemoryStore();
    for (let i = 0; i < n; i++) {
      const data = blob(offset + i);
      const digest = await store.putBlob(data);
      await store.put(`push-${i}`, { type: 'photo', n: i, photo: { '@type': 'blob', digest, length: data.length, content_type: CONTENT_TYPE } } as JsonObject);
    }
    collectGarbage();
    const progress = new Progress(log ?? (() => {}), `BLIP push to /${db} (docs with blobs)`, n);
    const repl = new Replicator({ url: `${target.client.baseUrl}/${db}`, db: store, type: 'push' });
    const done = await runOnce(repl, progress, n, STALL_MS);
    const measured = progress.finish(done);
    const stored = await docCount(admin, db);
    if (stored !== n) throw new Error(`/${db} holds ${stored} docs after the push, expected ${n}`);
    const probe = n - 1;
    await verifyPushedBlob(admin, db, `push-${probe}`, blob(offset + probe));
    return measured;
  }

  async function warmUp(target: HttpTarget, admin: HttpClient, log: Log): Promise<void> {
    const started = performance.now();
    const warmDigests = await preparePullDb(admin, WARM_DB, WARM_UP_DOCS, WARM_OFFSET, undefined);
    await blipPull(target, WARM_DB, warmDigests, undefined);
    await restPull(target, WARM_DB, WARM_UP_DOCS, undefined);
    await blipPush(target, admin, `${PUSH_PREFIX}_warm`, WARM_UP_DOCS, WARM_OFFSET + WARM_UP_DOCS, undefined);
    log(`blobs warm-up: BLIP pull, REST pull and BLIP push of ${WARM_UP_DOCS} docs with blobs (not measured) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  async function measure(target: HttpTarget, admin: HttpClient, log: Log): Promise<void> {
    if (!prepared) {
      await warmUp(target, admin, log);
      prepared = true;
    }
    const pullDigests = await preparePullDb(admin, PULL_DB, count, PULL_OFFSET, log);
    const pulls: Array<[Row, () => Promise<Measurement>]> = [
      ['blipPull', () => blipPull(target, PULL_DB, pullDigests, log)],
      ['restPull', () => restPull(target, PULL_DB, count, log)],
    ];
    if (round % 2 === 0) pulls.reverse();
    for (const [key, run] of pulls) {
      if (errors.has(key)) continue;
      collectGarbage();
      try {
        add(key, await run());
      } catch (err) {
        log(`${key === 'blipPull' ? 'BLIP' : 'REST'} pull of blobs FAILED: ${message(err)}`);
        fail(key, message(err));
      }
    }
    if (errors.has('blipPush')) return;
    collectGarbage();
    try {
      add('blipPush', await blipPush(target, admin, `${PUSH_PREFIX}_${round}`, count, PUSH_OFFSET + round * PUSH_ROUND_STRIDE, log));
    } catch (err) {
      log(`BLIP push of blobs FAILED: ${message(err)}`);
      fail('blipPush', message(err));
    }
  }

  const rate = (key: Row): number | undefined => {
    const samples = rows.get(key);
    return samples && samples.length > 0 && !errors.has(key) ? median(samples.map((m) => m.docs / m.seconds)) : undefined;
  };

  /** Median MB/s (10^6 bytes) of blob data; the docs' JSON (a few dozen bytes each) is not counted. */
  const megabytes = (docsPerSecond: number): string => ((docsPerSecond * blobBytes) / 1e6).toFixed(1);

  function ratio(): number | undefined {
    const blip = rate('blipPull');
    const rest = rate('restPull');
    return blip !== undefined && rest !== undefined ? blip / rest : undefined;
  }

  function rowLines(rounds: number): string[] {
    const r = ratio();
    const mbLines = ROWS.flatMap(({ key, label }) => {
      const docsPerSecond = rate(key);
      return docsPerSecond === undefined ? [] : [`    ${label}: ${megabytes(docsPerSecond)} MB/s`];
    });
    return [
      ...throughputLines(ROWS, rows, errors, rounds),
      ...(mbLines.length > 0 ? [`  Blob data (${int(blobBytes)} bytes per doc, MB = 10^6 bytes):`, ...mbLines] : []),
      `  BLIP pull / REST pull (docs/s): ${r === undefined ? 'n/a' : `${r.toFixed(2)}x`}`,
    ];
  }

  return {
    id: 'blobs',
    name: 'blobs',
    summary: [
      `blobs (Syncline only): ${int(count)} docs with a ${int(blobBytes / 1024)} KiB incompressible blob each: one-shot BLIP pull into a MemoryStore against a REST/PouchDB pull of the same db; BLIP push`,
    ],

    async run(target: HttpTarget, log) {
      round += 1;
      const admin = target.adminClient;
      if (!admin) {
        for (const row of ROWS) fail(row.key, 'needs the Syncline admin API: set BENCH_SYNCLINE_ADMIN_URL along with BENCH_SYNCLINE_URL');
        return;
      }
      try {
        await measure(target, admin, log);
      } catch (err) {
        log(`blobs FAILED: ${message(err)}`);
        for (const row of ROWS) if ((rows.get(row.key)?.length ?? 0) < round) fail(row.key, message(err));
      }
    },

    failAll(error) {
      for (const row of ROWS) if (!rows.has(row.key)) fail(row.key, error);
    },

    report(rounds) {
      return [
        'Replication of documents with blobs (Syncline only; ratios against Syncline in the same run)',
        `Each doc carries one ${int(blobBytes)}-byte blob of pseudo-random (incompressible) bytes, ${CONTENT_TYPE}; @syncline/client Replicator + MemoryStore over ws://.../{db}/_blipsync, as GUEST`,
        ...rowLines(rounds),
      ];
    },

    hasErrors() {
      return errors.size > 0;
    },
  };
}
