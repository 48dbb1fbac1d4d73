import { winnerThenLeaves } from '../document/index.ts';
import type { ChangeRecord } from '../storage/bucket.ts';
import type { DbContext } from './context.ts';
import { revisionContent, toCurrent } from './crud/current.ts';
import { parseMeta } from './doc-meta.ts';
import { formatRevision } from './crud/read.ts';
import { loadUserAccess, lostChannels, type UserAccess } from './access/user-access.ts';
import { STAR_CHANNEL } from '../channels/index.ts';
import { formatPosition, plain, FINAL, type FeedPosition } from './feed-position.ts';
import { readUserFeed, type FeedItem } from './user-changes.ts';

export interface ChangesOptions {
  since: FeedPosition;
  /** `filter=sync_gateway/bychannel`: only documents in these channels. */
  channels?: readonly string[];
  limit?: number;
  includeDocs?: boolean;
  /** "all_docs" lists every leaf revision, "main_only" only the winner. */
  style?: 'main_only' | 'all_docs';
  activeOnly?: boolean;
  docIds?: readonly string[];
  conflicts?: boolean;
}

export interface ChangeEntry {
  seq: number | string;
  id: string;
  changes: Array<{ rev: string }>;
  deleted?: true;
  /** Channels the document left that the user could read it through: the client should purge it. */
  removed?: string[];
  doc?: Record<string, unknown>;
}

export interface ChangesBatch {
  results: ChangeEntry[];
  /** Where a client resumes without missing anything. */
  last: FeedPosition;
}

const PAGE = 500;

/** Only include_docs needs the bodies; all_docs gets the metadata with the changes-log entries. */
const metaOnly = (opts: ChangesOptions): boolean => opts.style === 'all_docs' && opts.includeDocs !== true;

async function toEntries(ctx: DbContext, records: ChangeRecord[], opts: ChangesOptions): Promise<ChangeEntry[]> {
  const stored = opts.includeDocs ? await ctx.collection.getMany(records.map((r) => r.id)) : null;
  const withMeta = metaOnly(opts);
  const entries: ChangeEntry[] = [];
  for (const record of records) {
    if (opts.activeOnly && record.deleted) continue;
    const entry: ChangeEntry = { seq: record.seq, id: record.id, changes: [{ rev: record.rev }] };
    if (record.deleted) entry.deleted = true;
    if (stored || withMeta) {
      const current = stored ? toCurrent(record.id, stored.get(record.id)) : null;
      const meta = current ? current.meta : record.meta ? parseMeta(record.meta) : null;
      if (!meta) continue;
      if (opts.style === 'all_docs') {
        entry.changes = winnerThenLeaves(meta.tree).map((rev) => ({ rev }));
      }
      if (current) {
        const content = revisionContent(current, meta.rev);
        if (content) entry.doc = (await formatRevision(ctx, current, meta.rev, content, { conflicts: opts.conflicts === true })).doc;
      }
    }
    entries.push(entry);
  }
  return entries;
}

/**
 * One pass over the changes log from `since` for the given user (null: the admin, who sees everything): up to
 * `limit` entries in feed order. A pass that reaches the end reports the latest committed sequence as `last`,
 * even when filtered or purged entries end it.
 */
export async function readChangesBatch(ctx: DbContext, opts: ChangesOptions, userName: string | null = null): Promise<ChangesBatch> {
  if (userName === null) return readAdminBatch(ctx, opts);
  // The committed sequence is read before the access: a grant committed later is then beyond `last`, so the
  // next pass still sees it as new and backfills its channels.
  const committed = ctx.notifier.latest;
  const access = await loadUserAccess(ctx, userName);
  if (!access || access.user.disabled) return { results: [], last: plain(committed) };
  if (seesEverythingSince(access, opts)) {
    // Every document is readable and was since the client's position: the plain feed, up to `committed`.
    const batch = await readAdminBatch(ctx, opts);
    const results = batch.results.filter((r) => typeof r.seq !== 'number' || r.seq <= committed);
    const last = results.length < batch.results.length || batch.last.trigger > committed ? plain(committed) : batch.last;
    return { results, last };
  }
  const results: ChangeEntry[] = [];
  let since = opts.since;
  const limit = opts.limit ?? Infinity;
  for (;;) {
    const want = Math.min(PAGE, limit - results.length);
    const page = await readUserFeed(ctx, access, {
      since,
      upTo: Math.max(committed, since.seq === FINAL ? since.trigger : 0),
      limit: want,
      ...(opts.channels ? { channels: opts.channels } : {}),
      ...(opts.docIds ? { docIds: opts.docIds } : {}),
      withMeta: metaOnly(opts),
    });
    const docs = page.items.filter((i) => i.kind === 'doc');
    const entries = await toEntries(ctx, docs.map((i) => i.record), opts);
    const byId = new Map(entries.map((e) => [e.id, e]));
    for (const item of page.items) {
      const entry = item.kind === 'doc' ? byId.get(item.record.id) : removalEntry(item, opts);
      if (entry) results.push({ ...entry, seq: formatPosition(item.position) });
    }
    since = page.last;
    if (page.items.length < want || results.length >= limit) return { results: latestPerDocument(results), last: since };
  }
}

/**
 * A batch is read page by page: a document updated between two page reads shows up in both. Only its latest
 * entry is kept, so that a response lists each document once, as CouchDB's does.
 */
function latestPerDocument(results: ChangeEntry[]): ChangeEntry[] {
  const lastIndex = new Map<string, number>();
  results.forEach((entry, index) => lastIndex.set(entry.id, index));
  return lastIndex.size === results.length ? results : results.filter((entry, index) => lastIndex.get(entry.id) === index);
}

/** A user holding `*` since before `since` (and having lost nothing since) reads exactly what the admin reads. */
function seesEverythingSince(access: UserAccess, opts: ChangesOptions): boolean {
  const star = access.channels.get(STAR_CHANNEL);
  if (star === undefined || opts.channels !== undefined || opts.since.seq !== FINAL) return false;
  // From 0 everything is new to the client anyway, so a grant of `*` after some documents changes nothing.
  if (opts.since.trigger === 0) return true;
  return star <= opts.since.trigger && lostChannels(access, opts.since.trigger).size === 0;
}

function removalEntry(item: FeedItem, opts: ChangesOptions): ChangeEntry | null {
  const { record } = item;
  if (opts.activeOnly) return null;
  const entry: ChangeEntry = { seq: record.seq, id: record.id, changes: [{ rev: record.rev }], removed: item.removedFrom };
  if (record.deleted) entry.deleted = true;
  if (opts.includeDocs) entry.doc = { _id: record.id, _rev: record.rev, _removed: true };
  return entry;
}

async function readAdminBatch(ctx: DbContext, opts: ChangesOptions): Promise<ChangesBatch> {
  const committed = ctx.notifier.latest;
  const results: ChangeEntry[] = [];
  // A compound position (from a user feed) has not passed its trigger sequence itself.
  let lastSeq = opts.since.seq === FINAL ? opts.since.trigger : opts.since.trigger - 1;
  const limit = opts.limit ?? Infinity;
  for (;;) {
    const want = Math.min(PAGE, limit - results.length);
    if (want <= 0) return { results: latestPerDocument(results), last: plain(lastSeq) };
    const records = await ctx.collection.readChanges({
      since: lastSeq,
      limit: want,
      ...(opts.channels ? { channels: opts.channels } : {}),
      ...(opts.docIds ? { docIds: opts.docIds } : {}),
      ...(metaOnly(opts) ? { withMeta: true } : {}),
    });
    if (records.length > 0) {
      lastSeq = records[records.length - 1]!.seq;
      const filter = opts.channels ? new Set(opts.channels) : null;
      const left = (r: ChangeRecord): boolean => filter !== null && !r.channels.some((c) => filter.has(c));
      const entries = await toEntries(ctx, records.filter((r) => !left(r)), opts);
      const byId = new Map(entries.map((e) => [e.id, e]));
      for (const record of records) {
        const entry = left(record)
          ? removalEntry({ position: plain(record.seq), record, kind: 'removed', removedFrom: record.removed.filter((c) => filter!.has(c)) }, opts)
          : byId.get(record.id);
        if (entry) results.push(entry);
      }
    }
    if (records.length < want) return { results: latestPerDocument(results), last: plain(Math.max(lastSeq, committed)) };
  }
}
