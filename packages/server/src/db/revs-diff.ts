import { readManyImported } from './import/importer.ts';
import { revsDiff as treeRevsDiff } from '../document/index.ts';
import type { DbContext } from './context.ts';
import { parseMeta } from './doc-meta.ts';
import { canReadDocument } from './access/doc-access.ts';
import type { UserAccess } from './access/user-access.ts';

export type RevsDiffResult = Record<string, { missing: string[]; possible_ancestors?: string[] }>;

/** `_revs_diff`: for each document, the given revisions this database does not have. */
/** A document the user cannot read is answered as if it did not exist, so its revisions do not leak. */
export async function revsDiff(ctx: DbContext, request: Record<string, readonly string[]>, user: UserAccess | null = null): Promise<RevsDiffResult> {
  const stored = await readManyImported(ctx, Object.keys(request));
  const result: RevsDiffResult = {};
  for (const [id, revs] of Object.entries(request)) {
    const metaText = stored.get(id)?.meta;
    const meta = metaText ? parseMeta(metaText) : null;
    if (!meta || !canReadDocument(user, meta)) {
      if (revs.length > 0) result[id] = { missing: [...revs] };
      continue;
    }
    const diff = treeRevsDiff(meta.tree, [...revs]);
    if (diff.missing.length === 0) continue;
    result[id] = diff.possibleAncestors.length > 0 ? { missing: diff.missing, possible_ancestors: diff.possibleAncestors } : { missing: diff.missing };
  }
  return result;
}
