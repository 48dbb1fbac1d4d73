import type { RevTree } from '../document/types.ts';

/** Metadata of one attachment of a revision, as CouchDB shows it in `_attachments` stubs. */
export interface AttachmentMeta {
  content_type: string;
  /** "sha1-<base64>" of the stored bytes; also the blob-store key. */
  digest: string;
  length: number;
  /** Generation of the revision that added or last changed this attachment. */
  revpos: number;
  encoding?: string;
  encoded_length?: number;
}

export type AttachmentMap = Record<string, AttachmentMeta>;

/**
 * The sync metadata of a document (Sync Gateway's `_sync` xattr). Lives in the sync-metadata table beside the
 * body, never inside it. Its shape is internal.
 */
export interface SyncMeta {
  /** Current winning revision. */
  rev: string;
  /** Gateway sequence of the latest change. */
  seq: number;
  /** Full revision tree (pruned to revs_limit). */
  tree: RevTree;
  /** Attachments of the winning revision. */
  attachments: AttachmentMap;
  /**
   * Bodies of leaf revisions that are not held by the documents table: conflicting branches and a deleted
   * winner's tombstone body. JSON text of user properties plus `_attachments` (metadata only).
   */
  bodies: Record<string, string>;
  /** Channels of the winning revision (the sync function's output for it). */
  channels: string[];
  /**
   * Channels the document has left → sequence of the change that removed it from each. Accumulates across
   * revisions (a channel entered again is dropped), so a feed reader that missed the removing change still learns
   * of it. Absent when empty.
   */
  removed?: Record<string, number>;
  /**
   * Channel → sequence of the change that (last) put the document in it, for current and removed channels.
   * Absent for metadata written before it was recorded.
   */
  joined?: Record<string, number>;
  /** Channels of every non-winning leaf revision (conflicts, deleted ones included). Absent without conflicts. */
  leafChannels?: Record<string, string[]>;
  /** `access()` grants of the winning revision: grantee (user name or "role:NAME") → channels. Absent when empty. */
  access?: Record<string, string[]>;
  /** `role()` grants of the winning revision: user name → role names. Absent when empty. */
  roles?: Record<string, string[]>;
  /** When the sync function set an expiry for the winning revision: absolute Unix time in seconds. */
  expiry?: number;
  /** True when the winning revision is a tombstone. */
  deleted: boolean;
  /** When the document was last tombstoned (ms since epoch), for the metadata purge interval. */
  tombstonedAt?: number;
  /** ISO time of the last gateway write. */
  timeSaved: string;
}

/** Parses stored metadata; metadata written before a field existed reads with that field absent (or empty). */
export function parseMeta(text: string): SyncMeta {
  const meta = JSON.parse(text) as SyncMeta;
  if (!Array.isArray(meta.channels)) meta.channels = [];
  return meta;
}

export function serializeMeta(meta: SyncMeta): string {
  return JSON.stringify(meta);
}
