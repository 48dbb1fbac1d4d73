import { winnerThenLeaves } from '../document/index.ts';
import type { ChangeRecord } from '../storage/bucket.ts';
import type { DbContext } from './context.ts';
import { revisionContent, toCurrent } from './crud/current.ts';
import { parseMeta } from './doc-meta.ts';
import { formatRevision } from './crud/read.ts';

export interface ChangesOptions {
  since: number;
  limit?: number;
  includeDocs?: boolean;
  /** "all_docs" lists every leaf revision, "main_only" only the winner. */
  style?: 'main_only' | 'all_docs';
  activeOnly?: boolean;
  docIds?: readonly string[];
  conflicts?: boolean;
}

export interface ChangeEntry {
  seq: number;
  id: string;
  changes: Array<{ rev: string }>;
  deleted?: true;
  doc?: Record<string, unknown>;
}

export interface ChangesBatch {
  results: ChangeEntry[];
  /** Highest sequence examined: a client resuming from it misses nothing. */
  lastSeq: number;
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
 * One pass over the changes log from `since`: up to `limit` entries, in sequence order. A pass that reaches the
 * end of the log reports the latest committed sequence as `lastSeq`, even when filtered or purged entries end it.
 */
export async function readChangesBatch(ctx: DbContext, opts: ChangesOptions): Promise<ChangesBatch> {
  const committed = ctx.notifier.latest;
  const results: ChangeEntry[] = [];
  let lastSeq = opts.since;
  const limit = opts.limit ?? Infinity;
  for (;;) {
    const want = Math.min(PAGE, limit - results.length);
    if (want <= 0) return { results, lastSeq };
    const records = await ctx.collection.readChanges({
      since: lastSeq,
      limit: want,
      ...(opts.docIds ? { docIds: opts.docIds } : {}),
      ...(metaOnly(opts) ? { withMeta: true } : {}),
    });
    if (records.length > 0) {
      lastSeq = records[records.length - 1]!.seq;
      results.push(...(await toEntries(ctx, records, opts)));
    }
    if (records.length < want) return { results, lastSeq: Math.max(lastSeq, committed) };
  }
}
