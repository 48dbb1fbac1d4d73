import { badRequest } from '../../base/errors.ts';
import { readChangesBatch, type ChangesOptions } from '../../db/changes.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import { readJson } from '../body.ts';
import { Query } from '../query.ts';
import type { Handler, Reply, RequestContext } from '../route-types.ts';
import type { Database } from '../../db/database.ts';
import { FINAL, formatPosition, parsePosition, plain, type FeedPosition } from '../../db/feed-position.ts';

type Feed = 'normal' | 'longpoll' | 'continuous';

interface FeedParams {
  feed: Feed;
  options: ChangesOptions;
  timeoutMs: number;
  heartbeatMs: number | undefined;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const MAX_TIMEOUT_MS = 900_000;

const BY_CHANNEL = 'sync_gateway/bychannel';

function parseSince(value: string | undefined, db: Database): FeedPosition {
  if (value === undefined || value === '') return plain(0);
  if (value === 'now') return plain(db.notifier.latest);
  return parsePosition(value);
}

/** The sequence a feed waits beyond for new changes. */
const waitSeq = (p: FeedPosition): number => (p.seq === FINAL ? p.trigger : p.trigger - 1);

/** GET takes query parameters; POST takes the same names in a JSON body (which win over the query). */
async function feedParams(ctx: RequestContext & { db: Database }): Promise<FeedParams> {
  const params = new URLSearchParams(ctx.query.params);
  if (ctx.req.method === 'POST') {
    const body = await readJson(ctx.req);
    if (!isPlainObject(body)) throw badRequest('Request body must be a JSON object');
    for (const [key, value] of Object.entries(body)) params.set(key, typeof value === 'string' ? value : JSON.stringify(value));
  }
  const q = new Query(params);
  const feed = q.string('feed') ?? 'normal';
  if (feed !== 'normal' && feed !== 'longpoll' && feed !== 'continuous') throw badRequest(`Unsupported feed type: ${feed}`);
  const style = q.string('style') ?? 'main_only';
  if (style !== 'main_only' && style !== 'all_docs') throw badRequest(`Invalid style: ${style}`);
  const filter = q.string('filter');
  let docIds = q.stringList('doc_ids');
  if (filter !== undefined && filter !== '_doc_ids' && filter !== BY_CHANNEL) throw badRequest(`Unknown filter: ${filter}`);
  const channels = filter === BY_CHANNEL ? q.stringList('channels') : undefined;
  if (filter === BY_CHANNEL && (channels === undefined || channels.length === 0)) {
    throw badRequest('Missing \'channels\' filter parameter');
  }
  if (filter === '_doc_ids' && docIds === undefined) throw badRequest('filter=_doc_ids needs doc_ids');
  if (filter === undefined && docIds !== undefined && ctx.req.method === 'GET' && !q.has('doc_ids')) docIds = undefined;
  const limit = q.int('limit', { min: 0 });
  const options: ChangesOptions = {
    since: parseSince(q.string('since'), ctx.db),
    includeDocs: q.bool('include_docs'),
    style,
    activeOnly: q.bool('active_only'),
    conflicts: q.bool('conflicts'),
    ...(limit !== undefined && limit > 0 ? { limit } : {}),
    ...(docIds ? { docIds } : {}),
    ...(channels ? { channels } : {}),
  };
  const heartbeat = q.string('heartbeat') === 'true' ? 60_000 : q.int('heartbeat', { min: 0 });
  return {
    feed,
    options,
    timeoutMs: Math.min(q.int('timeout', { min: 0 }) ?? DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS),
    heartbeatMs: heartbeat !== undefined && heartbeat > 0 ? Math.max(heartbeat, 25) : undefined,
  };
}

const userOf = (ctx: RequestContext): string | null => ctx.user?.name ?? null;

async function continuous(ctx: RequestContext & { db: Database }, params: FeedParams): Promise<void> {
  const { res, db, signal } = ctx;
  const user = userOf(ctx);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' }).flushHeaders();
  const deadline = Date.now() + params.timeoutMs;
  let since = params.options.since;
  let remaining = params.options.limit ?? Infinity;
  while (!signal.aborted) {
    const batch = await readChangesBatch(db, { ...params.options, since, ...(Number.isFinite(remaining) ? { limit: remaining } : {}) }, user);
    for (const entry of batch.results) res.write(`${JSON.stringify(entry)}\n`);
    since = batch.last;
    remaining -= batch.results.length;
    if (remaining <= 0) break;
    const left = deadline - Date.now();
    if (left <= 0) break;
    const woke = await db.notifier.waitFor(waitSeq(since), Math.min(left, params.heartbeatMs ?? left), signal);
    if (!woke && params.heartbeatMs !== undefined && Date.now() < deadline) res.write('\n');
  }
  res.end(`${JSON.stringify({ last_seq: formatPosition(since) })}\n`);
}

export const changesHandler: Handler = async (ctx) => {
  const params = await feedParams(ctx);
  const { since } = params.options;
  const ended = ctx.db.stats.startPull(params.feed !== 'normal', since.trigger === 0 && since.seq === FINAL);
  try {
    return await feed(ctx, params);
  } finally {
    ended();
  }
};

async function feed(ctx: RequestContext & { db: Database }, params: FeedParams): Promise<Reply> {
  const { db } = ctx;
  if (params.feed === 'continuous') {
    await continuous(ctx, params);
    return { streamed: true };
  }
  const user = userOf(ctx);
  let batch = await readChangesBatch(db, params.options, user);
  if (params.feed === 'longpoll' && batch.results.length === 0) {
    const { res, signal } = ctx;
    const heartbeat = params.heartbeatMs;
    if (heartbeat !== undefined) res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
    const deadline = Date.now() + params.timeoutMs;
    while (batch.results.length === 0 && Date.now() < deadline && !signal.aborted) {
      const left = deadline - Date.now();
      const woke = await db.notifier.waitFor(waitSeq(batch.last), Math.min(left, heartbeat ?? left), signal);
      if (woke) batch = await readChangesBatch(db, { ...params.options, since: batch.last }, user);
      else if (heartbeat !== undefined && !signal.aborted) res.write('\n');
    }
    if (heartbeat !== undefined) {
      res.end(JSON.stringify({ results: batch.results, last_seq: formatPosition(batch.last) }));
      return { streamed: true };
    }
  }
  return { status: 200, json: { results: batch.results, last_seq: formatPosition(batch.last) } };
}
