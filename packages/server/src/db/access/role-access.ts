import type { AccessGrants } from '../../auth/access.ts';
import type { DbContext } from '../context.ts';

/**
 * The standing grants documents made to a role (the sync function's `access("role:NAME", ...)`), in the
 * shape roleJson takes, so that a role's all_channels includes them.
 */
export async function roleGrantsOf(ctx: DbContext, roleName: string): Promise<AccessGrants> {
  const records = await ctx.collection.readGrants([`role:${roleName}`]);
  const channels = new Map<string, number>();
  for (const g of records) {
    if (g.kind !== 'channel' || g.revokedSeq !== null) continue;
    const old = channels.get(g.item);
    if (old === undefined || g.seq < old) channels.set(g.item, g.seq);
  }
  return { user: {}, roles: {}, roleChannels: { [roleName]: Object.fromEntries(channels) } };
}
