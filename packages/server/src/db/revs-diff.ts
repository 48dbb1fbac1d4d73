import { revsDiff as treeRevsDiff } from '../document/index.ts';
import type { DbContext } from './context.ts';
import { parseMeta } from './doc-meta.ts';

export type RevsDiffResult = Record<string, { missing: string[]; possible_ancestors?: string[] }>;

/** `_revs_diff`: for each document, the given revisions this database does not have. */
export async function revsDiff(ctx: DbContext, request: Record<string, readonly string[]>): Promise<RevsDiffResult> {
  const stored = await ctx.collection.getMany(Object.keys(request));
  const result: RevsDiffResult = {};
  for (const [id, revs] of Object.entries(request)) {
    const metaText = stored.get(id)?.meta;
    if (!metaText) {
      if (revs.length > 0) result[id] = { missing: [...revs] };
      continue;
    }
    const diff = treeRevsDiff(parseMeta(metaText).tree, [...revs]);
    if (diff.missing.length === 0) continue;
    result[id] = diff.possibleAncestors.length > 0 ? { missing: diff.missing, possible_ancestors: diff.possibleAncestors } : { missing: diff.missing };
  }
  return result;
}
