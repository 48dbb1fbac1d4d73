import type { DbContext } from './context.ts';
import { parseMeta } from './doc-meta.ts';
import { parseStoredBody } from './crud/current.ts';

const PAGE = 1000;

/** Removes attachment bodies that no kept revision references any more. Returns how many were removed. */
export async function compactAttachments(ctx: DbContext): Promise<number> {
  const referenced = new Set<string>();
  let after: string | undefined;
  for (;;) {
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
      await ctx.bucket.deleteBlob(digest);
      removed++;
    }
  }
  ctx.log.info({ removed, kept: referenced.size }, 'compacted attachments');
  return removed;
}
