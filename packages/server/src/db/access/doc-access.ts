import { forbidden } from '../../base/errors.ts';
import type { SyncMeta } from '../doc-meta.ts';
import { canSeeChannels, type UserAccess } from './user-access.ts';

/** The channel fields of the sync metadata (older metadata may lack the optional ones). */
type ChannelMeta = Pick<SyncMeta, 'rev' | 'channels' | 'deleted'> & {
  removed?: Readonly<Record<string, number>>;
  leafChannels?: Readonly<Record<string, readonly string[]>>;
};

/**
 * The channels a revision is readable through. The winner's are the document's; a conflicting leaf keeps the
 * channels its own sync-function run gave it. A deleted winner can also be read through the channels the
 * document left, so that users who had it learn of the deletion.
 */
export function channelsOfRevision(meta: ChannelMeta, rev: string): readonly string[] {
  if (rev !== meta.rev) return meta.leafChannels?.[rev] ?? meta.channels;
  if (meta.deleted && meta.removed) return [...meta.channels, ...Object.keys(meta.removed)];
  return meta.channels;
}

export function canReadRevision(access: UserAccess | null, meta: ChannelMeta, rev: string): boolean {
  return canSeeChannels(access, channelsOfRevision(meta, rev));
}

/** Whether the document, as a whole, is in the user's channels (its winning revision). */
export function canReadDocument(access: UserAccess | null, meta: ChannelMeta): boolean {
  return canReadRevision(access, meta, meta.rev);
}

/** 403 as Sync Gateway answers for a document outside the user's channels. */
export function requireReadable(access: UserAccess | null, meta: ChannelMeta, rev: string): void {
  if (!canReadRevision(access, meta, rev)) throw forbidden('forbidden');
}
