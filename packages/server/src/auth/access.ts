import { GUEST_USERNAME, PUBLIC_CHANNEL } from './principal.ts';
import type { GrantRecord } from '../storage/bucket.ts';
import { channelIntervals, currentChannels, currentRoles, roleIntervals } from './access-intervals.ts';
import type { RoleRecord, UserRecord } from './records.ts';

/** Grants made by documents (the sync function's `access()` / `role()`), each with the sequence that made it. */
export interface AccessGrants {
  /** channel → sequence, granted to the user itself. */
  user: Readonly<Record<string, number>>;
  /** role → sequence, roles granted to the user. */
  roles: Readonly<Record<string, number>>;
  /** role → channel → sequence, channels granted to roles. */
  roleChannels: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface Access {
  /** Every channel the user can read → the lowest sequence since which some path grants it. */
  channels: Map<string, number>;
  /** Effective roles (existing ones only) → the lowest sequence since which the user has them. */
  roles: Map<string, number>;
}

export const NO_GRANTS: AccessGrants = Object.freeze({ user: {}, roles: {}, roleChannels: {} });

function addMin(target: Map<string, number>, name: string, seq: number): void {
  const old = target.get(name);
  if (old === undefined || seq < old) target.set(name, seq);
}

function addAllMin(target: Map<string, number>, source: Readonly<Record<string, number>> | undefined, floor = 0): void {
  if (!source) return;
  for (const [name, seq] of Object.entries(source)) addMin(target, name, Math.max(seq, floor));
}

/** The channels of a role on its own: admin channels ∪ channels documents granted to it (lowest sequence). */
export function roleChannels(role: RoleRecord, grants: AccessGrants = NO_GRANTS): Map<string, number> {
  const channels = new Map<string, number>();
  addAllMin(channels, role.admin_channels);
  addAllMin(channels, own(grants.roleChannels, role.name));
  return channels;
}

function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * What a user can read. Pure: the caller loads the roles (any subset; roles missing from `roles` are treated as
 * deleted and contribute nothing) and the document grants.
 *
 * A channel reached through a role is granted from the later of "user got the role" and "role got the channel",
 * since access needs both; across all paths the lowest sequence wins. `!` is always granted since 0. `*` is
 * kept as an ordinary entry: whoever interprets the map treats it as "every channel".
 */
export function computeAccess(
  user: UserRecord,
  roles: ReadonlyMap<string, RoleRecord>,
  grants: AccessGrants = NO_GRANTS,
): Access {
  const records = standingGrants(user.name, grants);
  return {
    channels: currentChannels(channelIntervals(user, roles, records)),
    roles: currentRoles(roleIntervals(user, records), roles),
  };
}

/** Document grants in the shape of the grants index: all standing (the same computation serves both). */
function standingGrants(userName: string, grants: AccessGrants): GrantRecord[] {
  const out: GrantRecord[] = [];
  const add = (grantee: string, kind: GrantRecord['kind'], since: Readonly<Record<string, number>>): void => {
    for (const [item, seq] of Object.entries(since)) out.push({ grantee, kind, item, docId: '', seq, revokedSeq: null });
  };
  add(userName, 'channel', grants.user);
  add(userName, 'role', grants.roles);
  for (const [role, channels] of Object.entries(grants.roleChannels)) add(`role:${role}`, 'channel', channels);
  return out;
}

const sortedKeys = (map: ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>): string[] =>
  (map instanceof Map ? [...(map as ReadonlyMap<string, unknown>).keys()] : Object.keys(map)).sort();

/** What userJson needs of a user's access: Access, or db/access's UserAccess. */
export interface AccessView {
  readonly channels: ReadonlyMap<string, number>;
  readonly roles: ReadonlyMap<string, number>;
}

export interface UserJson {
  name: string;
  email?: string;
  disabled: boolean;
  admin_channels: string[];
  admin_roles: string[];
  all_channels: string[];
  roles: string[];
}

export interface RoleJson {
  name: string;
  admin_channels: string[];
  all_channels: string[];
}

/** The body of `GET /{db}/_user/{name}`. Never includes the password hash or the session token. */
export function userJson(user: UserRecord, access: AccessView): UserJson {
  return {
    name: user.name,
    ...(user.email !== undefined && user.name !== GUEST_USERNAME ? { email: user.email } : {}),
    disabled: user.disabled,
    admin_channels: sortedKeys(user.admin_channels),
    admin_roles: sortedKeys(user.admin_roles),
    all_channels: sortedKeys(access.channels),
    roles: sortedKeys(access.roles),
  };
}

/** The body of `GET /{db}/_role/{name}`; like SG, `all_channels` includes the public channel `!`. */
export function roleJson(role: RoleRecord, grants: AccessGrants = NO_GRANTS): RoleJson {
  const all = roleChannels(role, grants);
  all.set(PUBLIC_CHANNEL, 0);
  return { name: role.name, admin_channels: sortedKeys(role.admin_channels), all_channels: sortedKeys(all) };
}
