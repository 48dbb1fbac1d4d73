import { PUBLIC_CHANNEL } from '../channels/index.ts';
import type { RevokedMap, RoleRecord, SinceMap, UserRecord } from './records.ts';
import type { GrantRecord } from '../storage/bucket.ts';
import { livesOf } from './principal-writes.ts';

/** A span of sequences [from, to) during which a grant held; `to` is Infinity while it stands. */
export interface Interval {
  from: number;
  to: number;
}

export type IntervalMap = Map<string, Interval[]>;

function add(map: IntervalMap, name: string, interval: Interval): void {
  if (interval.from >= interval.to) return;
  const list = map.get(name);
  if (list) list.push(interval);
  else map.set(name, [interval]);
}

function addSince(map: IntervalMap, since: SinceMap, until = Infinity): void {
  for (const [name, seq] of Object.entries(since)) add(map, name, { from: seq, to: until });
}

function addRevoked(map: IntervalMap, revoked: RevokedMap | undefined, until = Infinity): void {
  for (const [name, [from, to]] of Object.entries(revoked ?? {})) add(map, name, { from, to: Math.min(to, until) });
}

function addGrants(map: IntervalMap, grants: readonly GrantRecord[], grantee: string, kind: GrantRecord['kind']): void {
  for (const g of grants) {
    if (g.grantee === grantee && g.kind === kind) add(map, g.item, { from: g.seq, to: g.revokedSeq ?? Infinity });
  }
}

/** Roles a user has had, with when: admin roles (standing and withdrawn) and roles granted by documents. */
export function roleIntervals(user: UserRecord, grants: readonly GrantRecord[]): IntervalMap {
  const map: IntervalMap = new Map();
  addSince(map, user.admin_roles);
  addRevoked(map, user.revoked_roles);
  addGrants(map, grants, user.name, 'role');
  return map;
}

/**
 * Every channel a user has been able to read, with when. A channel reached through a role holds while both
 * the role membership and the role's channel hold; a deleted role stops granting at its deletion.
 */
export function channelIntervals(
  user: UserRecord,
  roles: ReadonlyMap<string, RoleRecord>,
  grants: readonly GrantRecord[],
): IntervalMap {
  const map: IntervalMap = new Map([[PUBLIC_CHANNEL, [{ from: 0, to: Infinity }]]]);
  addSince(map, user.admin_channels);
  addRevoked(map, user.revoked_channels);
  addGrants(map, grants, user.name, 'channel');
  for (const [roleName, memberships] of roleIntervals(user, grants)) {
    const role = roles.get(roleName);
    if (!role) continue;
    const lives = livesOf(role).map(([from, to]) => ({ from, to: to ?? Infinity }));
    const own: IntervalMap = new Map();
    addSince(own, role.admin_channels, role.deleted_seq ?? Infinity);
    addRevoked(own, role.revoked_channels);
    addGrants(own, grants, `role:${roleName}`, 'channel');
    for (const [channel, spans] of own) {
      for (const span of spans) {
        for (const member of memberships) {
          for (const life of lives) {
            add(map, channel, {
              from: Math.max(span.from, member.from, life.from),
              to: Math.min(span.to, member.to, life.to),
            });
          }
        }
      }
    }
  }
  return map;
}

/** Channels readable now → the lowest sequence since which a standing grant gives them. */
export function currentChannels(intervals: IntervalMap): Map<string, number> {
  const out = new Map<string, number>();
  for (const [channel, spans] of intervals) {
    let since = Infinity;
    for (const span of spans) if (span.to === Infinity && span.from < since) since = span.from;
    if (since !== Infinity) out.set(channel, since);
  }
  return out;
}

/** Roles held now → the lowest sequence since which they are held (existing roles only). */
export function currentRoles(intervals: IntervalMap, roles: ReadonlyMap<string, RoleRecord>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, since] of currentChannels(intervals)) {
    const role = roles.get(name);
    if (role && role.deleted_seq === undefined) out.set(name, since);
  }
  return out;
}

/**
 * Channels readable at sequence `at` and no longer readable now → the sequence at which access ended (the
 * latest end among the grants that held then or later).
 */
export function channelsLostSince(intervals: IntervalMap, at: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [channel, spans] of intervals) {
    if (spans.some((s) => s.to === Infinity)) continue;
    if (!spans.some((s) => s.from <= at && at < s.to)) continue;
    let end = 0;
    for (const s of spans) if (s.to > at && s.to > end) end = s.to;
    out.set(channel, end);
  }
  return out;
}
