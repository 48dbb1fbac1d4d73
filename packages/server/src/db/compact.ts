import { yieldToEventLoop } from '../base/yield.ts';
import type { DbContext } from './context.ts';
import { parseMeta } from './doc-meta.ts';
import { parseStoredBody } from './crud/current.ts';

const PAGE = 1000;

/** Removes attachment bodies that no kept revision references any more. Returns how many were removed. */
export async function compactAttachments(ctx: DbContext): Promise<number> {
  return (await compactAttachmentsCounted(ctx)).purged;
}

/**
 * compactAttachments, also counting the attachments found referenced (`marked`, as Sync Gateway reports it).
 * With `dryRun`, counts what would be removed and removes nothing.
 */
export async function compactAttachmentsCounted(ctx: DbContext, opts: { dryRun?: boolean } = {}): Promise<{ marked: number; purged: number }> {
  const referenced = new Set<string>();
  let after: string | undefined;
  for (;;) {
    await yieldToEventLoop();
    const rows = await ctx.collection.scanMeta({ ...(after !== undefined ? { startKey: after, inclusiveEnd: true } : {}), includeDeleted: true, limit: PAGE, ...(after !== undefined ? { skip: 1 } : {}) });
    for (const row of rows) {
      const meta = parseMeta(row.meta);
      for (const att of Object.values(meta.attachments)) referenced.add(att.digest);
      for (const [rev, text] of Object.entries(meta.bodies)) {
        for (const att of Object.values(parseStoredBody(text, meta.tree[rev]?.deleted ?? false).attachments)) referenced.add(att.digest);
      }
    }
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.id;
  }
  let removed = 0;
  for (const digest of await ctx.bucket.listBlobDigests()) {
    if (!referenced.has(digest) && !ctx.blobPins.has(digest)) {
      if (!opts.dryRun) await ctx.bucket.deleteBlob(digest);
      removed++;
    }
  }
  ctx.log.info({ removed, kept: referenced.size, ...(opts.dryRun ? { dryRun: true } : {}) }, 'compacted attachments');
  return { marked: referenced.size, purged: removed };
}
