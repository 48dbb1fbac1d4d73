/**
 * What the replicator needs from a local database: documents with revision trees, a sequence-ordered feed
 * of local changes (for push), blobs by digest, and local checkpoint records. Revision IDs are opaque
 * `generation-digest` strings; the replicator never computes them.
 */

export type JsonObject = Record<string, unknown>;

/** The current (winning) revision of a document. */
export interface LocalDocument {
  docId: string;
  revId: string;
  /** Ancestors of `revId`, newest first (not including it). */
  history: string[];
  body: JsonObject;
  deleted: boolean;
  /** Local sequence of the last change to this document. */
  sequence: number;
  /** The latest revision known to be on the remote (set by pull and by a successful push). */
  remoteRevId: string | undefined;
}

/** A revision received from the remote, grafted into the tree with its history. */
export interface RevisionToInsert {
  docId: string;
  revId: string;
  /** Ancestors, newest first. */
  history: string[];
  body: JsonObject;
  deleted: boolean;
}

/** One entry of the local changes feed: the document's current revision at `sequence`. */
export interface LocalChange {
  sequence: number;
  docId: string;
  revId: string;
  deleted: boolean;
}

export type ChangeListener = (change: LocalChange) => void;

export interface LocalStore {
  /** Stable identifier of this database, part of the replication checkpoint ID. */
  readonly uuid: string;
  getDocument(docId: string): Promise<LocalDocument | undefined>;
  /** The body of one revision, if it is still stored. */
  getRevision(docId: string, revId: string): Promise<{ body: JsonObject; deleted: boolean; history: string[] } | undefined>;
  hasRevision(docId: string, revId: string): Promise<boolean>;
  /** Revisions held locally that could be ancestors of `revId` (leaves of lower generation), newest first. */
  possibleAncestors(docId: string, revId: string, max: number): Promise<string[]>;
  /**
   * Adds a revision from the remote; a revision already present is left as it is. Marks it as on the remote.
   * The caller hands `rev.body` over: the store may keep that object, and the caller does not touch it again.
   */
  insertRevision(rev: RevisionToInsert): Promise<void>;
  /** Records that `revId` is now on the remote. */
  setRemoteRevision(docId: string, revId: string): Promise<void>;
  /** Removes every trace of a document (revocation or channel removal). */
  purge(docId: string): Promise<void>;
  /**
   * Resolves a conflict between two leaves (as LiteCore's c4doc_resolveConflict): the branch of `losingRevId`
   * is dropped, and when `merged` is given a new revision with that content is added as a child of
   * `winningRevId`. The document's current revision becomes that new revision or `winningRevId`.
   * Returns the new current revision ID.
   */
  resolveConflict(docId: string, winningRevId: string, losingRevId: string, merged?: { body: JsonObject; deleted: boolean }): Promise<string>;
  /** Documents changed after `since`, in sequence order, at most `limit`. */
  changesSince(since: number, limit: number): Promise<LocalChange[]>;
  /** Calls `listener` after each local change; returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void;
  getBlob(digest: string): Promise<Uint8Array | undefined>;
  /** Stores bytes; returns their digest (`sha1-` + base64). */
  putBlob(data: Uint8Array): Promise<string>;
  getLocalRecord(id: string): Promise<JsonObject | undefined>;
  setLocalRecord(id: string, value: JsonObject): Promise<void>;
}
