import { yieldToEventLoop } from '../base/yield.ts';
import { ud } from '../base/logger.ts';
import type { MetaRow } from '../storage/bucket.ts';
import type { DbContext } from './context.ts';
import { parseMeta } from './doc-meta.ts';

export const DAY_MS = 86_400_000;

const PAGE = 500;

export interface TombstoneCompactionOptions {
  /** Tombstones made longer ago than this (milliseconds) are purged. */
  olderThanMs: number;
  /** The current time, ms since epoch (default: now). */
  now?: number;
  /** Checked between documents: once aborted, the run ends with what it purged so far. */
  signal?: AbortSignal;
  /** Called after each page with the number purged so far. */
  onProgress?: (purged: number) => void;
}

/**
 * When a document was tombstoned (ms since epoch): `tombstonedAt`, or for metadata written before that field
 * existed the time of its last write. Null when neither can be read: such a tombstone is kept.
 */
export function tombstoneTime(row: MetaRow): number | null {
  try {
    const meta = parseMeta(row.meta);
    if (typeof meta.tombstonedAt === 'number' && Number.isFinite(meta.tombstonedAt)) return meta.tombstonedAt;
    const saved = typeof meta.timeSaved === 'string' ? Date.parse(meta.timeSaved) : NaN;
    return Number.isNaN(saved) ? null : saved;
  } catch {
    return null;
  }
}

/**
 * Purges tombstones (documents whose winning revision is deleted) made before `now - olderThanMs`: metadata,
 * changes-log entries, channel rows and grants go, so they stop replicating (`metadata_purge_interval`). Each
 * purge is conditional on the metadata read here, so a document recreated or updated meanwhile is kept, and on
 * there being no documents row, so a tombstone whose body an app has written again (awaiting import) is kept.
 * Returns how many were purged.
 */
export async function compactTombstones(ctx: DbContext, opts: TombstoneCompactionOptions): Promise<number> {
  const cutoff = (opts.now ?? Date.now()) - opts.olderThanMs;
  let purged = 0;
  let scanned = 0;
  let after = '';
  while (!opts.signal?.aborted) {
    await yieldToEventLoop();
    const rows = await ctx.collection.listTombstones(after, PAGE);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    scanned += rows.length;
    const due = rows.filter((row) => {
      const time = tombstoneTime(row);
      return time !== null && time < cutoff;
    });
    if (due.length > 0) purged += await purgeDue(ctx, due, opts.signal);
    opts.onProgress?.(purged);
    ctx.log.debug({ scanned, purged, after }, 'tombstone compaction progress');
    if (rows.length < PAGE) break;
  }
  const summary = { purged, scanned, olderThan: new Date(cutoff).toISOString(), ...(opts.signal?.aborted ? { stopped: true } : {}) };
  if (purged > 0) ctx.log.info(summary, 'compacted tombstones');
  else ctx.log.debug(summary, 'compacted tombstones');
  return purged;
}

async function purgeDue(ctx: DbContext, due: readonly MetaRow[], signal: AbortSignal | undefined): Promise<number> {
  const stored = await ctx.collection.getMany(due.map((row) => row.id));
  let purged = 0;
  for (const row of due) {
    if (signal?.aborted) break;
    const doc = stored.get(row.id);
    // A body row means an app wrote the document again with SQL: import will turn it into a new revision.
    if (!doc || doc.body !== null || doc.metaCas !== row.metaCas) continue;
    if (await ctx.collection.purge(row.id, { expectedMetaCas: row.metaCas, expectedBodyCas: null })) {
      purged++;
      ctx.log.debug({ id: ud(row.id) }, 'purged tombstone');
    }
  }
  return purged;
}
