import type { RoleUpdate, UserUpdate } from './principal.ts';
import { regrant, type RevokedMap, type RoleRecord, type UserRecord } from './records.ts';

/**
 * Pure construction of the user and role records that an update writes, given the sequence allocated for the
 * write. Grants newly added are stamped with that sequence, withdrawn grants move to the revocation history.
 */

/** What the store decided before the sequence is known: password hash, session token, flags. */
export interface UserFields {
  email: string | undefined;
  disabled: boolean;
  passwordHash: string | undefined;
  sessionUuid: string;
}

export function nextUser(base: UserRecord, update: UserUpdate, fields: UserFields, seq: number): UserRecord {
  const channels = update.admin_channels ? regrant(base.admin_channels, base.revoked_channels, update.admin_channels, seq) : null;
  const roles = update.admin_roles ? regrant(base.admin_roles, base.revoked_roles, update.admin_roles, seq) : null;
  const revokedChannels = channels ? channels.revoked : base.revoked_channels;
  const revokedRoles = roles ? roles.revoked : base.revoked_roles;
  return {
    name: base.name,
    ...(fields.email ? { email: fields.email } : {}),
    disabled: fields.disabled,
    ...(fields.passwordHash !== undefined ? { password_hash: fields.passwordHash } : {}),
    admin_channels: channels ? channels.granted : base.admin_channels,
    admin_roles: roles ? roles.granted : base.admin_roles,
    ...(revokedChannels ? { revoked_channels: revokedChannels } : {}),
    ...(revokedRoles ? { revoked_roles: revokedRoles } : {}),
    session_uuid: fields.sessionUuid,
  };
}

/** Everything a deleted role had granted, as revocation history ending at its deletion. */
function tombstoneHistory(role: RoleRecord): RevokedMap {
  const deletedSeq = role.deleted_seq ?? 0;
  return Object.fromEntries([
    ...Object.entries(role.revoked_channels ?? {}),
    ...Object.entries(role.admin_channels).map(([channel, since]) => [channel, [since, deletedSeq] as const] as const),
  ]);
}

/**
 * The role after an update. `current` is the stored record: a live role keeps the sequences of the channels it
 * keeps; a tombstone (deleted role) is replaced by a fresh role whose channels all get `seq`, the deleted
 * role's grants being kept as history so that feeds can still tell what was lost at the deletion.
 */
export function nextRole(name: string, current: RoleRecord | null, update: RoleUpdate, seq: number): RoleRecord {
  if (current && current.deleted_seq === undefined) {
    const channels = update.admin_channels ? regrant(current.admin_channels, current.revoked_channels, update.admin_channels, seq) : null;
    const revoked = channels ? channels.revoked : current.revoked_channels;
    return {
      name,
      admin_channels: channels ? channels.granted : current.admin_channels,
      ...(revoked ? { revoked_channels: revoked } : {}),
      ...(current.lives ? { lives: current.lives } : {}),
    };
  }
  const fresh = regrant({}, current ? tombstoneHistory(current) : undefined, update.admin_channels ?? [], seq);
  const past = current ? livesOf(current) : [];
  return { name, admin_channels: fresh.granted, revoked_channels: fresh.revoked, lives: [...past, [seq, null]] };
}

/** The existence spans of a role record; records without them existed from 0 (until their deletion). */
export function livesOf(role: RoleRecord): ReadonlyArray<readonly [number, number | null]> {
  return role.lives ?? [[0, role.deleted_seq ?? null]];
}

/** The tombstone left by deleting a live role at `seq`: its grants are kept, ending at the deletion. */
export function roleTombstone(role: RoleRecord, seq: number): RoleRecord {
  return {
    name: role.name,
    admin_channels: role.admin_channels,
    ...(role.revoked_channels ? { revoked_channels: role.revoked_channels } : {}),
    deleted_seq: seq,
    lives: livesOf(role).map(([from, to]) => [from, to ?? seq] as const),
  };
}
