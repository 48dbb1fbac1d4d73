import { internalError } from '../base/errors.ts';

/**
 * Stored shapes of principals and sessions in the bucket's metadata records:
 *   _sync:user:<name>      UserRecord   (GUEST is stored as "_sync:user:GUEST" once configured)
 *   _sync:role:<name>      RoleRecord
 *   _sync:session:<sha256(session id) hex>  SessionRecord, with a record TTL
 */
export const USER_PREFIX = '_sync:user:';
export const ROLE_PREFIX = '_sync:role:';
export const SESSION_PREFIX = '_sync:session:';

export const userKey = (name: string): string => USER_PREFIX + name;
export const roleKey = (name: string): string => ROLE_PREFIX + name;

/** Name → sequence since which it has been granted. */
export type SinceMap = Readonly<Record<string, number>>;

/**
 * Name → [sequence granted, sequence revoked] of the latest grant that was withdrawn (and not granted again).
 * Kept so that change feeds can tell a client which documents it lost access to.
 */
export type RevokedMap = Readonly<Record<string, readonly [number, number]>>;

export interface RoleRecord {
  name: string;
  /** Explicit (admin) channels of the role, each with the sequence at which it was granted. */
  admin_channels: SinceMap;
  /** admin_channels withdrawn from the role. */
  revoked_channels?: RevokedMap;
  /** Set when the role was deleted (a tombstone kept for revocation history): the deleting sequence. */
  deleted_seq?: number;
  /**
   * When the role existed: [created, deleted] sequences, the last one open (null) while it exists. A role
   * grants nothing outside these spans, even through standing document grants to `role:NAME`. Records
   * written before this field existed count as existing since 0.
   */
  lives?: ReadonlyArray<readonly [number, number | null]>;
}

export interface UserRecord {
  name: string;
  email?: string;
  disabled: boolean;
  /** `scrypt$...` (see password.ts); absent when the user has no password (allowEmptyPassword). */
  password_hash?: string;
  admin_channels: SinceMap;
  admin_roles: SinceMap;
  /** admin_channels withdrawn from the user. */
  revoked_channels?: RevokedMap;
  /** admin_roles withdrawn from the user. */
  revoked_roles?: RevokedMap;
  /**
   * Random token copied into every session; replaced when the password changes or the user is disabled, which
   * invalidates the existing sessions. A deleted and re-created user gets a fresh one.
   */
  session_uuid: string;
}

export interface SessionRecord {
  name: string;
  session_uuid: string;
  /** ISO date. */
  expires: string;
  ttl_ms: number;
}

function sortedEntries<T>(map: Readonly<Record<string, T>>): Record<string, T> {
  // fromEntries defines own properties, so a channel named "__proto__" stays an ordinary key.
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The map sorted, or nothing when it is absent or empty (so that an empty history is not stored). */
function optionalRevoked<K extends string>(key: K, map: RevokedMap | undefined): Partial<Record<K, RevokedMap>> {
  if (!map || Object.keys(map).length === 0) return {};
  return { [key]: sortedEntries(map) } as Partial<Record<K, RevokedMap>>;
}

/** Canonical JSON (fixed field order, sorted maps): equal records encode to equal strings. */
export function encodeUser(user: UserRecord): string {
  return JSON.stringify({
    name: user.name,
    ...(user.email !== undefined ? { email: user.email } : {}),
    disabled: user.disabled,
    ...(user.password_hash !== undefined ? { password_hash: user.password_hash } : {}),
    admin_channels: sortedEntries(user.admin_channels),
    admin_roles: sortedEntries(user.admin_roles),
    ...optionalRevoked('revoked_channels', user.revoked_channels),
    ...optionalRevoked('revoked_roles', user.revoked_roles),
    session_uuid: user.session_uuid,
  });
}

export function encodeRole(role: RoleRecord): string {
  return JSON.stringify({
    name: role.name,
    admin_channels: sortedEntries(role.admin_channels),
    ...optionalRevoked('revoked_channels', role.revoked_channels),
    ...(role.deleted_seq !== undefined ? { deleted_seq: role.deleted_seq } : {}),
    ...(role.lives !== undefined ? { lives: role.lives } : {}),
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isSeq = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function isSinceMap(value: unknown): value is SinceMap {
  return isObject(value) && Object.values(value).every(isSeq);
}

function isRevokedMap(value: unknown): value is RevokedMap {
  return isObject(value) && Object.values(value).every((v) => Array.isArray(v) && v.length === 2 && isSeq(v[0]) && isSeq(v[1]));
}

function parse(key: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (!isObject(value)) throw internalError(`Corrupt auth record ${key}`);
  return value;
}

export function decodeUser(key: string, text: string): UserRecord {
  const v = parse(key, text);
  const { name, email, disabled, password_hash, admin_channels, admin_roles, revoked_channels, revoked_roles, session_uuid } = v;
  if (
    typeof name !== 'string' ||
    (email !== undefined && typeof email !== 'string') ||
    typeof disabled !== 'boolean' ||
    (password_hash !== undefined && typeof password_hash !== 'string') ||
    !isSinceMap(admin_channels) ||
    !isSinceMap(admin_roles) ||
    (revoked_channels !== undefined && !isRevokedMap(revoked_channels)) ||
    (revoked_roles !== undefined && !isRevokedMap(revoked_roles)) ||
    typeof session_uuid !== 'string'
  ) {
    throw internalError(`Corrupt auth record ${key}`);
  }
  return {
    name,
    ...(email !== undefined ? { email } : {}),
    disabled,
    ...(password_hash !== undefined ? { password_hash } : {}),
    admin_channels,
    admin_roles,
    ...(revoked_channels !== undefined ? { revoked_channels } : {}),
    ...(revoked_roles !== undefined ? { revoked_roles } : {}),
    session_uuid,
  };
}

export function decodeRole(key: string, text: string): RoleRecord {
  const { name, admin_channels, revoked_channels, deleted_seq, lives } = parse(key, text);
  if (
    typeof name !== 'string' ||
    !isSinceMap(admin_channels) ||
    (revoked_channels !== undefined && !isRevokedMap(revoked_channels)) ||
    (deleted_seq !== undefined && !isSeq(deleted_seq)) ||
    (lives !== undefined && !isLives(lives))
  ) {
    throw internalError(`Corrupt auth record ${key}`);
  }
  return {
    name,
    admin_channels,
    ...(revoked_channels !== undefined ? { revoked_channels } : {}),
    ...(deleted_seq !== undefined ? { deleted_seq } : {}),
    ...(lives !== undefined ? { lives } : {}),
  };
}

function isLives(value: unknown): value is Array<[number, number | null]> {
  return Array.isArray(value) && value.every((v) => Array.isArray(v) && v.length === 2 && isSeq(v[0]) && (v[1] === null || isSeq(v[1])));
}

/** Null for anything that is not a well-formed session record (sessions are never worth an error). */
export function decodeSession(text: string): SessionRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { name, session_uuid, expires, ttl_ms } = v as Record<string, unknown>;
  if (typeof name !== 'string' || typeof session_uuid !== 'string' || typeof expires !== 'string') return null;
  if (typeof ttl_ms !== 'number' || !(ttl_ms > 0)) return null;
  return { name, session_uuid, expires, ttl_ms };
}

export interface GrantHistory {
  granted: Record<string, number>;
  revoked: Record<string, readonly [number, number]>;
}

/**
 * The grants after setting the granted names to `names` at sequence `seq`: names that stay keep their grant
 * sequence, newly added names are stamped with `seq` (and leave the revoked map), and removed names move to
 * the revoked map as [granted, seq].
 */
export function regrant(current: SinceMap, revoked: RevokedMap | undefined, names: readonly string[], seq: number): GrantHistory {
  const wanted = new Set(names);
  const granted: Record<string, number> = Object.fromEntries(
    names.map((n) => [n, Object.hasOwn(current, n) ? (current[n] ?? seq) : seq]),
  );
  const history = new Map<string, readonly [number, number]>(Object.entries(revoked ?? {}).filter(([n]) => !wanted.has(n)));
  for (const [n, since] of Object.entries(current)) if (!wanted.has(n)) history.set(n, [since, seq]);
  // fromEntries (not assignment) so that a name such as "__proto__" stays an ordinary key.
  return { granted, revoked: Object.fromEntries(history) };
}
