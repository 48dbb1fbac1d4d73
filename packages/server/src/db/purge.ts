import { badRequest } from '../base/errors.ts';
import { leaves } from '../document/index.ts';
import type { DbContext } from './context.ts';

/**
 * `_purge` removes documents entirely (body, metadata, change entries), as if they never existed; they are
 * not replicated as deletions. A document is purged when asked with "*" or with revisions that include all its
 * leaves; partial purges of single branches are not supported and leave the document in place.
 */
export async function purge(ctx: DbContext, request: Record<string, unknown>): Promise<Record<string, string[]>> {
  const purged: Record<string, string[]> = {};
  for (const [id, revs] of Object.entries(request)) {
    if (!Array.isArray(revs) || !revs.every((r) => typeof r === 'string')) throw badRequest(`Purge list for "${id}" must be an array of revisions`);
  }
  for (const [id, revs] of Object.entries(request) as Array<[string, string[]]>) {
    const current = await ctx.collection.get(id);
    if (!current?.meta && current?.body == null) continue;
    const all = revs.includes('*');
    if (!all && current.meta) {
      const tree = (JSON.parse(current.meta) as { tree: Record<string, { parent: string | null; deleted: boolean }> }).tree;
      if (!leaves(tree).every((leaf) => revs.includes(leaf))) continue;
    }
    if (await ctx.collection.purge(id)) {
      purged[id] = revs;
      ctx.log.info({ id }, 'purged document');
    }
  }
  return purged;
}
