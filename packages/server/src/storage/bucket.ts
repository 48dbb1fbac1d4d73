/**
 * The storage interface. One configured database = one Bucket. Engines (sqlite/, postgres/) implement it and
 * pass the shared contract suite in storage/contract.ts. Everything above (db/) talks to storage only through it.
 *
 * Per collection there are two tables:
 *  - documents: the app-facing table (id, body JSON, cas). Live documents only. A trigger stamps `cas` from a
 *    bucket-wide counter on every INSERT/UPDATE and appends INSERT/UPDATE/DELETE to the mutation log, so that
 *    writes made by any process with plain SQL are seen.
 *  - sync metadata: (id, meta JSON, cas, seq, deleted). Written by the gateway only, never inside the body.
 * Plus a changes log (gateway sequences), a content-addressed blob store and small metadata records.
 */

/** Bucket-wide change counter value; increases on every write to a documents or sync-metadata row. */
export type Cas = number;

export const DEFAULT_COLLECTION = '_default._default';

/** What a read of one document returns: the live body row (if any) and the sync metadata row (if any). */
export interface StoredDoc {
  id: string;
  /** JSON text of the documents-table body, or null when there is no live row. */
  body: string | null;
  /** cas of the documents-table row, or null when there is no live row. */
  bodyCas: Cas | null;
  /** JSON text of the sync metadata, or null when the gateway has never written this document. */
  meta: string | null;
  /** cas of the sync-metadata row, or null when absent. */
  metaCas: Cas | null;
}

/** One entry of the changes log: the latest gateway revision of a document at `seq`. */
export interface ChangeRecord {
  seq: number;
  id: string;
  rev: string;
  deleted: boolean;
  /** Channels the revision is in. */
  channels: string[];
  /** Channels the document was removed from by this revision. */
  removed: string[];
  /** With ChangesQuery.withMeta: the document's sync-metadata JSON, read in the same snapshot (null if none). */
  meta?: string | null;
}

/** What the gateway hands to commitDocument once the sequence is known. */
/** One access grant made by a document's current revision: `access()` (kind channel) or `role()` (kind role). */
export interface Grant {
  /** A user name, or "role:NAME" for grants to a role. */
  grantee: string;
  kind: 'channel' | 'role';
  /** The channel or role granted. */
  item: string;
}

/** A grant as stored: which document made it, at which sequence, and when it was revoked (if it was). */
export interface GrantRecord extends Grant {
  docId: string;
  /** Sequence of the commit that made the grant (kept while later revisions repeat it). */
  seq: number;
  /** Sequence of the commit that withdrew it, or null while it stands. */
  revokedSeq: number | null;
}

export interface CommitPayload {
  /** JSON text of the sync metadata to store. */
  meta: string;
  /** The changes-log entry (its seq and id are filled by the engine). */
  change: Omit<ChangeRecord, 'seq' | 'id'>;
  /** True when the winning revision is a tombstone (indexed for _all_docs and purging). */
  deleted: boolean;
  /**
   * The complete set of grants the document now makes; undefined leaves its grants as they are. Grants no
   * longer in the set are marked revoked at this commit's sequence; grants already standing keep their sequence.
   */
  grants?: readonly Grant[];
}

export interface DocumentCommit {
  id: string;
  /** Expected cas of the documents row: null means "there must be no live row". */
  expectedBodyCas: Cas | null;
  /** Expected cas of the sync-metadata row: null means "there must be no metadata row". */
  expectedMetaCas: Cas | null;
  /**
   * New documents-table body (JSON text), or null to leave no live row (tombstone / deletion).
   * `undefined` leaves the documents row exactly as it is (metadata-only change).
   */
  body: string | null | undefined;
  /**
   * Called inside the write transaction with the freshly allocated gateway sequence; returns what to store.
   * Allocation inside the transaction keeps the changes log free of out-of-order commits.
   */
  build: (seq: number) => CommitPayload;
}

export type CommitResult =
  | { ok: true; seq: number; bodyCas: Cas | null; metaCas: Cas }
  | { ok: false; reason: 'cas_mismatch' };

export interface ChangesQuery {
  /** Exclusive lower bound. */
  since: number;
  limit?: number;
  /** Restrict to entries whose channels (or removed channels) intersect these; undefined = all. */
  channels?: readonly string[];
  /** Restrict to these document ids. */
  docIds?: readonly string[];
  /** Also return each entry's current sync metadata (saves a separate read of the documents). */
  withMeta?: boolean;
}

export interface ScanQuery {
  /** Inclusive bounds on id (CouchDB collation is by code point here). */
  startKey?: string;
  endKey?: string;
  inclusiveEnd?: boolean;
  descending?: boolean;
  limit?: number;
  skip?: number;
  /** When false (default) metadata rows whose winning revision is a tombstone are left out. */
  includeDeleted?: boolean;
}

export interface MetaRow {
  id: string;
  meta: string;
  metaCas: Cas;
  seq: number;
  deleted: boolean;
}

/** Conditions of a purge: each given cas must still be the stored one, or nothing is purged. */
export interface PurgeOptions {
  /** Expected cas of the sync-metadata row (null: there must be no metadata row). */
  expectedMetaCas?: Cas | null;
  /** Expected cas of the documents row (null: there must be no live row). */
  expectedBodyCas?: Cas | null;
}

export type MutationOp = 'insert' | 'update' | 'delete';

export interface MutationRecord {
  /** Monotonic position in the mutation log. */
  position: number;
  partition: number;
  id: string;
  /** cas stamped on the documents row by this write; null for deletes. */
  cas: Cas | null;
  op: MutationOp;
  /** Epoch milliseconds of the write (null for entries logged before times were recorded). */
  at: number | null;
}

/** Unprocessed mutation-log entries of one partition (for import lag reporting). */
export interface MutationBacklog {
  partition: number;
  /** Entries in the log (not yet trimmed) with a position above `after`. */
  pending: number;
  /** Epoch milliseconds of the oldest such entry, or null when there is none. */
  oldestAt: number | null;
}

/**
 * Something changed in the bucket, possibly written by another process (another node of a cluster):
 *  - sequence: a gateway sequence up to `seq` was committed (feeds should look again);
 *  - mutations: rows of a documents table were written (import should look again);
 *  - record: a metadata record changed (users, roles, sessions, config, leases);
 *  - resync: notifications may have been lost (e.g. a reconnect): re-read whatever is cached.
 */
export type BucketEvent =
  | { kind: 'sequence'; seq: number }
  | { kind: 'mutations' }
  | { kind: 'record'; key: string }
  | { kind: 'resync' };

export interface StoredRecord {
  key: string;
  value: string;
  /** Incremented on every successful set; used for compare-and-set. */
  version: number;
  /** Epoch milliseconds after which the record no longer exists, or null. */
  expiresAt: number | null;
}

export interface RecordWriteOptions {
  expectedVersion?: number;
  ttlMs?: number;
  /**
   * false: the write may be lost in a crash (it is still atomic and never corrupts anything). For data that is
   * cheap to recreate, such as replication checkpoints, so that saving it does not wait for the disk.
   */
  durable?: boolean;
}

export interface Collection {
  readonly name: string;
  /** Name of the app-facing documents table (public contract). */
  readonly documentsTable: string;

  get(id: string): Promise<StoredDoc | null>;
  getMany(ids: readonly string[]): Promise<Map<string, StoredDoc>>;
  /** Atomically write body + metadata + changes-log entry with a fresh sequence, if both cas values match. */
  commit(write: DocumentCommit): Promise<CommitResult>;
  /**
   * Several commits in one transaction, results in input order. Each is checked on its own: a cas mismatch on
   * one does not abort the others. An exception (e.g. thrown by a build callback) aborts them all.
   */
  commitMany(writes: readonly DocumentCommit[]): Promise<CommitResult[]>;
  /**
   * Remove a document entirely: body row, metadata row, its changes-log entries and grants. Returns whether
   * anything was removed; with options, nothing is removed (false) unless every given cas still matches.
   */
  purge(id: string, opts?: PurgeOptions): Promise<boolean>;
  /**
   * Metadata rows whose winning revision is a tombstone, in id order after `afterId` ("" for the first page).
   * Indexed: the cost follows the number of tombstones, not of documents.
   */
  listTombstones(afterId: string, limit: number): Promise<MetaRow[]>;

  /** Metadata rows ordered by id. */
  scanMeta(query: ScanQuery): Promise<MetaRow[]>;
  /** Count of metadata rows whose winning revision is live. Asked on every database-info request: keep it without a scan. */
  countLive(): Promise<number>;

  /** Changes-log entries with seq > since, ascending. One entry per document (its latest). */
  readChanges(query: ChangesQuery): Promise<ChangeRecord[]>;

  /** Grant records (standing and revoked) whose grantee is one of these, ordered by grantee, kind, item. */
  readGrants(grantees: readonly string[]): Promise<GrantRecord[]>;

  /** Mutation log of the documents table, one partition, positions > after, ascending. */
  readMutations(partition: number, after: number, limit: number): Promise<MutationRecord[]>;
  /**
   * Ids, in id order after `afterId`, of documents whose body was written outside the gateway since its last
   * write: a documents row without metadata or stamped after it (cas above the metadata cas), or live metadata
   * whose row is gone. A full check, for catching up at start-up; the mutation log serves the steady state.
   */
  scanUnimported(afterId: string, limit: number): Promise<string[]>;
  /** Drop mutation-log entries at or below a position in a partition (already processed). */
  trimMutations(partition: number, upTo: number): Promise<void>;
  /** For each partition, the log entries above the given position (index = partition; missing = 0). */
  mutationBacklog(after: readonly number[]): Promise<MutationBacklog[]>;
}

export interface Bucket extends AsyncDisposable {
  /** e.g. "sqlite" or "postgres". */
  readonly engine: string;
  /** Fixed number of mutation-log partitions of this bucket. */
  readonly partitions: number;

  collection(name?: string): Promise<Collection>;

  /** Highest gateway sequence allocated so far (0 when none). */
  lastSequence(): Promise<number>;

  putBlob(digest: string, data: Uint8Array): Promise<void>;
  getBlob(digest: string): Promise<Uint8Array | null>;
  hasBlob(digest: string): Promise<boolean>;
  deleteBlob(digest: string): Promise<void>;
  listBlobDigests(): Promise<string[]>;

  /** Small metadata records (checkpoints, _local docs, leases, users...). Expired records read as absent. */
  getRecord(key: string): Promise<StoredRecord | null>;
  /**
   * Set a record. With expectedVersion, only succeeds when the current version matches (0 = must not exist);
   * returns the new record, or null on a version mismatch.
   */
  setRecord(key: string, value: string, opts?: RecordWriteOptions): Promise<StoredRecord | null>;
  deleteRecord(key: string, opts?: { expectedVersion?: number }): Promise<boolean>;
  /**
   * Compare-and-set of a record whose value depends on a freshly allocated gateway sequence (users and roles,
   * whose grants are stamped with it). The sequence is taken in the same transaction as the write, so a reader
   * that sees the sequence as committed also sees the record. Null on a version mismatch (0 = must not exist).
   */
  setRecordAtSequence(key: string, expectedVersion: number, build: (seq: number) => string): Promise<{ record: StoredRecord; seq: number } | null>;
  /** Records whose key starts with prefix, ordered by key. */
  listRecords(prefix: string): Promise<StoredRecord[]>;

  /**
   * Calls the listener on changes made through this bucket and, where the engine can see them, by other
   * processes (PostgreSQL: LISTEN/NOTIFY). Delivery is best effort: callers keep a polling backstop.
   * Returns a function that removes the listener.
   */
  watch(listener: (event: BucketEvent) => void): () => void;

  close(): Promise<void>;
}

/** How a bucket is opened from a "server" config string such as "sqlite:./data/db.sqlite". */
export type BucketFactory = (url: string) => Promise<Bucket>;
