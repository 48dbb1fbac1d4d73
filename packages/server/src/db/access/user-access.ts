import type { UserRecord } from '../../auth/records.ts';
import { STAR_CHANNEL, type SyncUser } from '../../channels/index.ts';
import type { DbContext } from '../context.ts';
import { channelIntervals, channelsLostSince, currentChannels, currentRoles, roleIntervals, type IntervalMap } from '../../auth/access-intervals.ts';

/** What one user can read, computed from its record, its roles and the grants documents made. */
export interface UserAccess {
  readonly name: string;
  readonly user: UserRecord;
  /** Channels readable now → sequence since which (includes `!`; `*` means every document). */
  readonly channels: ReadonlyMap<string, number>;
  /** Roles held now → sequence since which. */
  readonly roles: ReadonlyMap<string, number>;
  /** Full history, for change feeds. */
  readonly intervals: IntervalMap;
}

/**
 * Loads a user's access. Null when the user does not exist. Role grants are read in two steps: the user's
 * own grants tell which roles documents gave it, whose channel grants are then read.
 */
export async function loadUserAccess(ctx: DbContext, name: string): Promise<UserAccess | null> {
  const user = await ctx.auth.getUser(name);
  if (!user) return null;
  return accessOf(ctx, user);
}

export async function accessOf(ctx: DbContext, user: UserRecord): Promise<UserAccess> {
  const own = await ctx.collection.readGrants([user.name]);
  const roleNames = [...roleIntervals(user, own).keys()];
  const roleGrants = roleNames.length > 0 ? await ctx.collection.readGrants(roleNames.map((r) => `role:${r}`)) : [];
  const grants = [...own, ...roleGrants];
  const roles = await ctx.auth.getRoleRecords(roleNames);
  const intervals = channelIntervals(user, roles, grants);
  return {
    name: user.name,
    user,
    channels: currentChannels(intervals),
    roles: currentRoles(roleIntervals(user, grants), roles),
    intervals,
  };
}

export function seesAllChannels(access: UserAccess): boolean {
  return access.channels.has(STAR_CHANNEL);
}

/** Whether a document in `channels` is readable; `null` access is the admin, who reads everything. */
export function canSeeChannels(access: UserAccess | null, channels: readonly string[]): boolean {
  if (access === null || seesAllChannels(access)) return true;
  return channels.some((c) => access.channels.has(c));
}

/** Channels readable at `at` and lost since, with the sequence of the loss. */
export function lostChannels(access: UserAccess, at: number): Map<string, number> {
  return channelsLostSince(access.intervals, at);
}

/** The `user` the sync function sees for a write; null (admin) passes every require* check. */
export function syncUserOf(access: UserAccess | null): SyncUser | null {
  if (access === null) return null;
  return { name: access.name, channels: [...access.channels.keys()], roles: [...access.roles.keys()] };
}
