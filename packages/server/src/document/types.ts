/** A node of a document's revision tree, keyed by its revision ID ("generation-digest"). */
export interface RevNode {
  /** Parent revision ID, or null for a root (either the first revision or one whose ancestors were pruned). */
  parent: string | null;
  /** True when this revision is a tombstone. */
  deleted: boolean;
}

/** The whole revision tree of a document: revision ID -> node. Serialised as-is inside the sync metadata. */
export type RevTree = Record<string, RevNode>;

export interface ParsedRevId {
  generation: number;
  digest: string;
}

/** CouchDB `_revisions` shape: newest first, ids without the generation prefix. */
export interface Revisions {
  start: number;
  ids: string[];
}
