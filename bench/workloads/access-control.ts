/**
 * Syncline-only section: what access control costs. PouchDB Server has no sync function or channels, so
 * every ratio here is between Syncline figures measured in the same run.
 *
 *  - Writes: the same task documents to two databases, one with the default sync function and one with a
 *    realistic one (validation, three channels, one access grant per document), as GUEST on the public API.
 *  - `_changes?since=0` for a user who can read 10 of 1,000 channels, against the admin reading everything.
 */
import { averageSize, makeDocs, type BenchDoc } from '../docs.ts';
import { collectGarbage } from '../gc.ts';
import { HttpClient, describeFailure, postBulkDocs, type HttpResponse } from '../http-client.ts';
import { median, table } from '../report.ts';
import type { AccessSettings, Settings } from '../settings.ts';
import type { HttpTarget } from '../targets/types.ts';
import { Progress, batches, freshIdPrefix, type Log, type Measurement, type SynclineSection } from './common.ts';

export const DEFAULT_SYNC_DB = 'acl_default';
export const REALISTIC_SYNC_DB = 'acl_sync';
export const FEED_DB = 'acl_feed';

export const REALISTIC_SYNC_FUNCTION = `function (doc, oldDoc) {
  if (doc.type !== 'task') throw({forbidden: 'bad type'});
  channel(['list-' + doc.list, 'owner-' + doc.owner, 'all-tasks']);
  access(doc.owner, 'list-' + doc.list);
}`;

const GUEST_READS_AND_WRITES_ALL = { GUEST: { disabled: false, admin_channels: ['*'] } };

/**
 * Database configs (without `server`) the section needs. The write databases let GUEST write, like the
 * shared workloads; the feed database has no GUEST access, its readers log in.
 */
export const ACCESS_DATABASES: Readonly<Record<string, { sync?: string; users?: object }>> = {
  [DEFAULT_SYNC_DB]: { users: GUEST_READS_AND_WRITES_ALL },
  [REALISTIC_SYNC_DB]: { sync: REALISTIC_SYNC_FUNCTION, users: GUEST_READS_AND_WRITES_ALL },
  [FEED_DB]: {},
};

const LISTS = 200;
const OWNERS = 50;
const FEED_BATCH = 1_000;
const PASSWORD = 'bench-password';

type WriteRow = 'bulk-default' | 'bulk-realistic' | 'put-default' | 'put-realistic';
type Reader = 'user' | 'star' | 'admin';

const WRITE_ROWS: ReadonlyArray<{ key: WriteRow; label: string }> = [
  { key: 'bulk-default', label: '_bulk_docs, default sync function' },
  { key: 'bulk-realistic', label: '_bulk_docs, realistic sync function' },
  { key: 'put-default', label: 'single PUT, default sync function' },
  { key: 'put-realistic', label: 'single PUT, realistic sync function' },
];

interface FeedSample {
  /** Median over the round's requests. */
  msPerRequest: number;
  entries: number;
  requests: number;
}

interface TaskDoc extends BenchDoc {
  list: string;
  owner: string;
  channels: string[];
}

/** ~1 KB generator documents turned into tasks; `channels` makes the default sync function route them too. */
function taskDocs(seed: number, count: number, offset: number): TaskDoc[] {
  return makeDocs(seed, count, offset).map((doc, i) => {
    const list = `l${i % LISTS}`;
    const owner = `owner${i % OWNERS}`;
    return { ...doc, type: 'task', list, owner, channels: [`list-${list}`, `owner-${owner}`, 'all-tasks'] };
  });
}

const channelName = (c: number): string => `ch-${String(c).padStart(4, '0')}`;

/** The restricted user's channels, spread evenly over all of them. */
function userChannels(s: AccessSettings): number[] {
  return Array.from({ length: s.userChannels }, (_, k) => Math.floor((k * s.channels) / s.userChannels));
}

/** Documents `feed-i` go to channel i mod channels: how many land in the given channels. */
function docsInChannels(s: AccessSettings, channels: readonly number[]): number {
  return channels.reduce((sum, c) => sum + (c < s.feedDocs ? Math.floor((s.feedDocs - 1 - c) / s.channels) + 1 : 0), 0);
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0);
const ratioText = (r: number): string => `${r.toFixed(r < 0.1 ? 3 : 2)}x`;

/** One line per distinct error, naming the rows that failed with it. */
function failureLines(failed: ReadonlyArray<{ label: string; error: string }>, rows: number): string[] {
  const byError = new Map<string, string[]>();
  for (const { label, error } of failed) {
    const first = error.split('\n')[0]!;
    byError.set(first, [...(byError.get(first) ?? []), label]);
  }
  return [...byError].map(([error, labels]) => `  ${labels.length === rows && rows > 1 ? 'all' : labels.join('; ')} failed: ${error}`);
}

/** Per-row samples (one per round) and per-row failures. */
class Store<K extends string, V> {
  readonly #samples = new Map<K, V[]>();
  readonly #errors = new Map<K, string>();

  add(key: K, value: V): void {
    this.#samples.set(key, [...(this.#samples.get(key) ?? []), value]);
  }

  fail(key: K, error: string): void {
    if (!this.#errors.has(key)) this.#errors.set(key, error);
  }

  error(key: K): string | undefined {
    return this.#errors.get(key);
  }

  samples(key: K): readonly V[] {
    return this.#samples.get(key) ?? [];
  }

  hasErrors(): boolean {
    return this.#errors.size > 0;
  }
}

async function ensureConfigured(admin: HttpClient, db: string, config: { sync?: string; users?: object }): Promise<void> {
  const res = await admin.request('GET', `/${db}/_config`);
  if (res.status === 200) {
    const current = JSON.parse(res.text) as { sync?: unknown };
    if ((current.sync ?? undefined) !== config.sync) {
      throw new Error(`database ${db} exists with another sync function; the section needs ${config.sync === undefined ? 'the default one' : 'its own'}`);
    }
    return;
  }
  if (res.status !== 404) throw describeFailure('GET', `/${db}/_config`, res);
  const created = await admin.request('PUT', `/${db}/`, JSON.stringify(config));
  if (created.status !== 201) throw describeFailure('PUT', `/${db}/`, created);
}

async function docCount(admin: HttpClient, db: string): Promise<number> {
  const res = await admin.request('GET', `/${db}/`);
  if (res.status !== 200) throw describeFailure('GET', `/${db}/`, res);
  const info = JSON.parse(res.text) as { doc_count?: unknown };
  return typeof info.doc_count === 'number' ? info.doc_count : 0;
}

async function putUser(admin: HttpClient, db: string, name: string, channels: string[]): Promise<void> {
  const path = `/${db}/_user/${name}`;
  const res = await admin.request('PUT', path, JSON.stringify({ password: PASSWORD, admin_channels: channels }));
  if (res.status !== 201 && res.status !== 200) throw describeFailure('PUT', path, res);
}

async function bulkWrite(client: HttpClient, db: string, docs: readonly TaskDoc[], batchSize: number, log: Log): Promise<Measurement> {
  const prefix = await freshIdPrefix(client, db, 'task');
  const groups = batches(
    docs.map((doc, i) => ({ _id: `${prefix}-${i}`, ...doc })),
    batchSize,
  );
  const progress = new Progress(log, `_bulk_docs /${db}`, docs.length);
  let done = 0;
  for (const group of groups) {
    await postBulkDocs(client, db, group);
    done += group.length;
    progress.update(done);
  }
  return progress.finish(done);
}

async function putWrite(client: HttpClient, db: string, docs: readonly TaskDoc[], log: Log): Promise<Measurement> {
  const prefix = await freshIdPrefix(client, db, 'put');
  const bodies = docs.map((doc) => JSON.stringify(doc));
  const progress = new Progress(log, `PUT /${db}`, docs.length);
  for (let i = 0; i < bodies.length; i++) {
    const path = `/${db}/${prefix}-${i}`;
    const res = await client.request('PUT', path, bodies[i]);
    if (res.status !== 201 && res.status !== 202) throw describeFailure('PUT', path, res);
    progress.update(i + 1);
  }
  return progress.finish(docs.length);
}

interface FeedResult {
  ms: number;
  entries: number;
  docs: number;
}

/** One `GET /{db}/_changes?since=0`, timed until the last byte of the response; the JSON is parsed after. */
async function readFeed(client: HttpClient): Promise<FeedResult> {
  const path = `/${FEED_DB}/_changes?since=0`;
  const started = performance.now();
  const res: HttpResponse = await client.request('GET', path);
  const elapsed = performance.now() - started;
  if (res.status !== 200) throw describeFailure('GET', path, res);
  const body = JSON.parse(res.text) as { results?: Array<{ id?: unknown }> };
  if (!Array.isArray(body.results)) throw new Error(`GET ${path}: no results array in ${res.text.slice(0, 200)}`);
  const docs = body.results.filter((r) => typeof r.id === 'string' && !r.id.startsWith('_')).length;
  return { ms: elapsed, entries: body.results.length, docs };
}

export function accessControlSection(settings: Settings): SynclineSection {
  const s = settings.access;
  const size = settings.batchSize;
  const restricted = userChannels(s);
  const expectedUserDocs = docsInChannels(s, restricted);
  const readers: ReadonlyArray<{ key: Reader; label: string; repeats: number; expected: number }> = [
    { key: 'user', label: `user with ${s.userChannels} channels`, repeats: 20, expected: expectedUserDocs },
    { key: 'star', label: 'user with *', repeats: 3, expected: s.feedDocs },
    { key: 'admin', label: 'admin (admin API)', repeats: 3, expected: s.feedDocs },
  ];
  const writes = new Store<WriteRow, Measurement>();
  const feeds = new Store<Reader, FeedSample>();
  const docBytes = averageSize(taskDocs(settings.seed, 200, 6_000_000));
  let round = 0;
  let writesPrepared = false;
  let feedPrepared = false;
  const clients: HttpClient[] = [];

  async function prepareWrites(target: HttpTarget, admin: HttpClient | undefined, log: Log): Promise<void> {
    if (admin) {
      for (const db of [DEFAULT_SYNC_DB, REALISTIC_SYNC_DB]) await ensureConfigured(admin, db, ACCESS_DATABASES[db]!);
    }
    // A document the realistic function refuses: if it is stored, the sync function is not in the write path.
    const probe = `/${REALISTIC_SYNC_DB}/probe-${Date.now().toString(36)}`;
    const res = await target.client.request('PUT', probe, JSON.stringify({ type: 'note' }));
    if (res.status === 201 || res.status === 200 || res.status === 202) {
      const reason = `the sync function of /${REALISTIC_SYNC_DB} was not applied (a document of type "note" was accepted)`;
      writes.fail('bulk-realistic', reason);
      writes.fail('put-realistic', reason);
    } else if (res.status !== 403) {
      throw describeFailure('PUT', probe, res);
    }
    // Unmeasured: the first writes of each database open its statements and compile its sync function.
    const warm = taskDocs(settings.seed, size, 8_000_000);
    for (const db of [DEFAULT_SYNC_DB, REALISTIC_SYNC_DB]) {
      if (writes.error(db === DEFAULT_SYNC_DB ? 'bulk-default' : 'bulk-realistic')) continue;
      const prefix = await freshIdPrefix(target.client, db, 'warm');
      await postBulkDocs(
        target.client,
        db,
        warm.map((doc, i) => ({ _id: `${prefix}-${i}`, ...doc })),
      );
    }
    log(`write databases ready: /${DEFAULT_SYNC_DB} (default sync function), /${REALISTIC_SYNC_DB} (realistic sync function)`);
  }

  async function measureWrites(target: HttpTarget, admin: HttpClient | undefined, log: Log): Promise<void> {
    if (!writesPrepared) {
      try {
        await prepareWrites(target, admin, log);
        writesPrepared = true;
      } catch (err) {
        for (const row of WRITE_ROWS) writes.fail(row.key, message(err));
        return;
      }
    }
    const order = round % 2 === 1 ? (['default', 'realistic'] as const) : (['realistic', 'default'] as const);
    const dbOf = { default: DEFAULT_SYNC_DB, realistic: REALISTIC_SYNC_DB } as const;
    const bulkDocs = taskDocs(settings.seed, s.bulkDocs, 6_000_000);
    for (const which of order) {
      const key: WriteRow = `bulk-${which}`;
      if (writes.error(key)) continue;
      collectGarbage();
      try {
        writes.add(key, await bulkWrite(target.client, dbOf[which], bulkDocs, size, log));
      } catch (err) {
        writes.fail(key, message(err));
      }
    }
    const putDocs = taskDocs(settings.seed, s.putDocs, 6_500_000);
    for (const which of order) {
      const key: WriteRow = `put-${which}`;
      if (writes.error(key)) continue;
      collectGarbage();
      try {
        writes.add(key, await putWrite(target.client, dbOf[which], putDocs, log));
      } catch (err) {
        writes.fail(key, message(err));
      }
    }
  }

  async function loadFeed(admin: HttpClient, log: Log): Promise<void> {
    await ensureConfigured(admin, FEED_DB, ACCESS_DATABASES[FEED_DB]!);
    const existing = await docCount(admin, FEED_DB);
    if (existing === s.feedDocs) {
      log(`/${FEED_DB} already holds ${int(s.feedDocs)} docs; reusing them`);
    } else if (existing !== 0) {
      throw new Error(`/${FEED_DB} holds ${existing} docs; the section needs it empty or with exactly ${s.feedDocs}`);
    } else {
      const loading = new Progress(log, `loading /${FEED_DB} over the admin API (not measured)`, s.feedDocs);
      for (let start = 0; start < s.feedDocs; start += FEED_BATCH) {
        const n = Math.min(FEED_BATCH, s.feedDocs - start);
        const docs = makeDocs(settings.seed, n, 4_000_000 + start).map((doc, j) => ({
          _id: `feed-${start + j}`,
          ...doc,
          channels: [channelName((start + j) % s.channels)],
        }));
        await postBulkDocs(admin, FEED_DB, docs);
        loading.update(start + n);
      }
      loading.finish(s.feedDocs);
    }
    await putUser(admin, FEED_DB, 'reader', restricted.map(channelName));
    await putUser(admin, FEED_DB, 'reader_all', ['*']);
    log(`users: reader (${restricted.length} of ${int(s.channels)} channels, ${int(expectedUserDocs)} docs), reader_all (*)`);
  }

  async function measureFeeds(target: HttpTarget, admin: HttpClient, log: Log): Promise<void> {
    const readerClients: Record<Reader, HttpClient> = {
      user: new HttpClient(target.client.baseUrl, { basicAuth: { name: 'reader', password: PASSWORD } }),
      star: new HttpClient(target.client.baseUrl, { basicAuth: { name: 'reader_all', password: PASSWORD } }),
      admin,
    };
    clients.push(readerClients.user, readerClients.star);
    if (!feedPrepared) {
      try {
        await loadFeed(admin, log);
        feedPrepared = true;
      } catch (err) {
        for (const r of readers) feeds.fail(r.key, message(err));
        return;
      }
    }
    for (const reader of readers) {
      if (feeds.error(reader.key)) continue;
      const client = readerClients[reader.key];
      collectGarbage();
      try {
        if (round === 1) {
          const cold = await readFeed(client);
          log(`_changes as ${reader.label}: first request ${ms(cold.ms)} ms, ${int(cold.entries)} entries (not measured)`);
        }
        const times: number[] = [];
        let entries = 0;
        for (let i = 0; i < reader.repeats; i++) {
          const result = await readFeed(client);
          if (result.docs !== reader.expected) {
            throw new Error(`_changes as ${reader.label} returned ${int(result.docs)} documents, expected ${int(reader.expected)}`);
          }
          times.push(result.ms);
          entries = result.entries;
        }
        const sample = { msPerRequest: median(times), entries, requests: reader.repeats };
        feeds.add(reader.key, sample);
        const rate = 1000 / sample.msPerRequest;
        log(`_changes as ${reader.label}: ${reader.repeats} requests, median ${ms(sample.msPerRequest)} ms = ${rate.toFixed(1)} requests/s, ${int(entries * rate)} entries/s`);
      } catch (err) {
        feeds.fail(reader.key, message(err));
      }
    }
  }

  function writeLines(rounds: number): string[] {
    const header = ['measurement', 'docs', 'seconds', 'docs/s'];
    if (rounds > 1) header.push(`range over ${rounds} rounds`);
    const rows = [header];
    const failures: Array<{ label: string; error: string }> = [];
    const rates = new Map<WriteRow, number>();
    for (const row of WRITE_ROWS) {
      const error = writes.error(row.key);
      const samples = writes.samples(row.key);
      if (error !== undefined) {
        rows.push([row.label, '-', '-', 'FAILED', ...(rounds > 1 ? [''] : [])]);
        failures.push({ label: row.label, error });
        continue;
      }
      if (samples.length === 0) continue;
      const perRound = samples.map((m) => m.docs / m.seconds);
      const rate = median(perRound);
      rates.set(row.key, rate);
      const cells = [row.label, int(samples[0]!.docs), median(samples.map((m) => m.seconds)).toFixed(2), int(rate)];
      if (rounds > 1) cells.push(`${int(Math.min(...perRound))} - ${int(Math.max(...perRound))}`);
      rows.push(cells);
    }
    const lines = [...table(rows).map((l) => `  ${l}`), ...failureLines(failures, WRITE_ROWS.length)];
    const ratio = (kind: 'bulk' | 'put'): string => {
      const a = rates.get(`${kind}-realistic`);
      const b = rates.get(`${kind}-default`);
      return a !== undefined && b !== undefined ? ratioText(a / b) : 'n/a';
    };
    lines.push(`  Realistic / default sync function (docs/s): _bulk_docs ${ratio('bulk')}, single PUT ${ratio('put')}`);
    return lines;
  }

  function feedLines(rounds: number): string[] {
    const header = ['reader', 'requests', 'entries', 'ms/request', 'requests/s', 'entries/s'];
    if (rounds > 1) header.push(`requests/s range over ${rounds} rounds`);
    const rows = [header];
    const failures: Array<{ label: string; error: string }> = [];
    const msOf = new Map<Reader, number>();
    for (const reader of readers) {
      const error = feeds.error(reader.key);
      const samples = feeds.samples(reader.key);
      if (error !== undefined) {
        rows.push([reader.label, '-', '-', '-', 'FAILED', '-', ...(rounds > 1 ? [''] : [])]);
        failures.push({ label: reader.label, error });
        continue;
      }
      if (samples.length === 0) continue;
      const perRequest = median(samples.map((x) => x.msPerRequest));
      msOf.set(reader.key, perRequest);
      const entries = samples[0]!.entries;
      const requests = samples.reduce((sum, x) => sum + x.requests, 0);
      const cells = [reader.label, int(requests), int(entries), ms(perRequest), (1000 / perRequest).toFixed(1), int((entries * 1000) / perRequest)];
      if (rounds > 1) {
        const perRound = samples.map((x) => 1000 / x.msPerRequest);
        cells.push(`${Math.min(...perRound).toFixed(1)} - ${Math.max(...perRound).toFixed(1)}`);
      }
      rows.push(cells);
    }
    const lines = [...table(rows).map((l) => `  ${l}`), ...failureLines(failures, readers.length)];
    const admin = msOf.get('admin');
    for (const reader of readers.filter((r) => r.key !== 'admin')) {
      const mine = msOf.get(reader.key);
      if (mine === undefined || admin === undefined) {
        lines.push(`  ${reader.label} / admin reading all ${int(s.feedDocs)} docs (time per request): n/a`);
        continue;
      }
      const r = mine / admin;
      const note = r < 1 ? ` (${(1 / r).toFixed(1)}x less time)` : '';
      lines.push(`  ${reader.label} / admin reading all ${int(s.feedDocs)} docs (time per request): ${ratioText(r)}${note}`);
    }
    return lines;
  }

  function failAll(error: string): void {
    for (const row of WRITE_ROWS) if (writes.samples(row.key).length === 0) writes.fail(row.key, error);
    for (const r of readers) if (feeds.samples(r.key).length === 0) feeds.fail(r.key, error);
  }

  return {
    id: 'access',
    name: 'access control',
    summary: [
      `access control, writes (Syncline only): ${int(s.bulkDocs)} (_bulk_docs) + ${int(s.putDocs)} (PUT) task docs to each of 2 databases`,
      `access control, _changes (Syncline only): ${int(s.feedDocs)} docs over ${int(s.channels)} channels, a user with ${s.userChannels} of them (${int(expectedUserDocs)} docs)`,
    ],

    async run(target, log) {
      round += 1;
      try {
        await measureWrites(target, target.adminClient, log);
        if (target.adminClient) await measureFeeds(target, target.adminClient, log);
        else for (const r of readers) feeds.fail(r.key, 'needs the Syncline admin API: set BENCH_SYNCLINE_ADMIN_URL along with BENCH_SYNCLINE_URL');
      } finally {
        for (const client of clients.splice(0)) client.close();
      }
    },

    failAll,

    report(rounds) {
      return [
        `Access control (Syncline only; ratios against Syncline in the same run)`,
        `Writes as GUEST on the public API, the same task docs (~${int(docBytes)} bytes, 3 channels in \`channels\`) to both databases;`,
        `  _bulk_docs: ${int(s.bulkDocs)} docs in batches of ${size}; single PUT: ${int(s.putDocs)} docs, sequential`,
        `  default: function (doc) { channel(doc.channels); }`,
        `  realistic: type check + channel() of 3 channels + 1 access() grant per doc (${LISTS} lists, ${OWNERS} owners)`,
        ...writeLines(rounds),
        '',
        `GET /${FEED_DB}/_changes?since=0 (normal feed), ${int(s.feedDocs)} docs over ${int(s.channels)} channels; users log in with Basic auth on the public API`,
        ...feedLines(rounds),
      ];
    },

    hasErrors() {
      return writes.hasErrors() || feeds.hasErrors();
    },
  };
}
