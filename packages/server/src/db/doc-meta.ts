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
  /** Channels of the winning revision. */
  channels: string[];
  /** True when the winning revision is a tombstone. */
  deleted: boolean;
  /** When the document was last tombstoned (ms since epoch), for the metadata purge interval. */
  tombstonedAt?: number;
  /** ISO time of the last gateway write. */
  timeSaved: string;
}

export function parseMeta(text: string): SyncMeta {
  return JSON.parse(text) as SyncMeta;
}

export function serializeMeta(meta: SyncMeta): string {
  return JSON.stringify(meta);
}
