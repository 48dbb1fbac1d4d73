import type { SyncResult } from '../../channels/index.ts';
import type { Grant } from '../../storage/bucket.ts';
import type { SyncMeta } from '../doc-meta.ts';

/** The sync function's grants and expiry for a document's winning revision. */
export interface WinnerGrants {
  access: Record<string, string[]>;
  roles: Record<string, string[]>;
  expiry?: number;
}

/** What a commit decides about channels: the winner's channels, the other leaves' channels and, if re-evaluated, its grants. */
export interface ChannelPlan {
  channels: readonly string[];
  /** Channels of each non-winning leaf. */
  leafChannels: ReadonlyMap<string, readonly string[]>;
  /** The winner's grants when the sync function was run for it in this commit; undefined keeps the stored ones. */
  grants: WinnerGrants | undefined;
}

export type ChannelFields = Pick<SyncMeta, 'channels' | 'removed' | 'joined' | 'leafChannels' | 'access' | 'roles' | 'expiry'>;

export function winnerGrantsOf(result: SyncResult): WinnerGrants {
  return result.expiry === undefined
    ? { access: result.access, roles: result.roles }
    : { access: result.access, roles: result.roles, expiry: result.expiry };
}

/** Channels a leaf revision was in, as stored in the metadata (an unknown leaf is in none). */
export function storedChannelsOf(meta: SyncMeta | null, rev: string): readonly string[] {
  if (!meta) return [];
  if (rev === meta.rev) return meta.channels;
  const leafChannels = meta.leafChannels;
  return leafChannels && Object.hasOwn(leafChannels, rev) ? (leafChannels[rev] ?? []) : [];
}

const nonEmpty = <T>(record: Record<string, T>): Record<string, T> | undefined => (Object.keys(record).length > 0 ? record : undefined);

/**
 * The metadata fields that follow from a plan, committed at `seq`: channels the winner no longer has join
 * `removed` at this sequence, channels it has (again) leave it, earlier removals stay.
 */
export function channelFields(old: SyncMeta | null, plan: ChannelPlan, seq: number): ChannelFields {
  const now = new Set(plan.channels);
  const removed = new Map<string, number>(old?.removed ? Object.entries(old.removed) : []);
  for (const channel of old?.channels ?? []) if (!now.has(channel)) removed.set(channel, seq);
  const before = new Set(old?.channels ?? []);
  const joined = new Map<string, number>(old?.joined ? Object.entries(old.joined) : []);
  for (const channel of now) {
    if (!before.has(channel)) joined.set(channel, seq);
    removed.delete(channel);
  }
  const leafChannels = new Map<string, string[]>();
  for (const [rev, channels] of plan.leafChannels) leafChannels.set(rev, [...channels]);
  const grants: WinnerGrants | undefined = plan.grants ?? (old ? storedGrants(old) : undefined);
  const fields: ChannelFields = { channels: [...plan.channels] };
  // Object.fromEntries defines own properties, so a channel named "__proto__" is kept as data.
  const removedRecord = nonEmpty(Object.fromEntries(removed));
  if (removedRecord) fields.removed = removedRecord;
  const joinedRecord = nonEmpty(Object.fromEntries(joined));
  if (joinedRecord) fields.joined = joinedRecord;
  const leafRecord = nonEmpty(Object.fromEntries(leafChannels));
  if (leafRecord) fields.leafChannels = leafRecord;
  const access = grants ? nonEmpty(grants.access) : undefined;
  if (access) fields.access = access;
  const roles = grants ? nonEmpty(grants.roles) : undefined;
  if (roles) fields.roles = roles;
  if (grants?.expiry !== undefined) fields.expiry = grants.expiry;
  return fields;
}

function storedGrants(meta: SyncMeta): WinnerGrants {
  const grants: WinnerGrants = { access: meta.access ?? {}, roles: meta.roles ?? {} };
  if (meta.expiry !== undefined) grants.expiry = meta.expiry;
  return grants;
}

/** The grant records of a winner's `access()` and `role()` calls, for the storage grants table. */
export function grantsOf(grants: WinnerGrants): Grant[] {
  const out: Grant[] = [];
  for (const [grantee, channels] of Object.entries(grants.access)) {
    for (const item of channels) out.push({ grantee, kind: 'channel', item });
  }
  for (const [user, roles] of Object.entries(grants.roles)) {
    for (const item of roles) out.push({ grantee: user, kind: 'role', item });
  }
  return out;
}

/** Whether a re-evaluation changes what feeds and access depend on: the winner's channels or grants, or a conflict's channels. */
export function channelsChanged(old: SyncMeta, next: ChannelFields): boolean {
  return (
    !sameSet(old.channels, next.channels) ||
    !sameRecord(old.leafChannels, next.leafChannels) ||
    !sameRecord(old.access, next.access) ||
    !sameRecord(old.roles, next.roles)
  );
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

function sameRecord(a: Record<string, string[]> | undefined, b: Record<string, string[]> | undefined): boolean {
  const entries = Object.entries(a ?? {});
  const other = b ?? {};
  if (entries.length !== Object.keys(other).length) return false;
  return entries.every(([k, v]) => Object.hasOwn(other, k) && sameSet(v, other[k] ?? []));
}
