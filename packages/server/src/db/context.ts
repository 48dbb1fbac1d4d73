import type { Logger } from '../base/logger.ts';
import type { DatabaseConfig } from '../config/schema.ts';
import type { Bucket, Collection } from '../storage/bucket.ts';
import type { ChangeNotifier } from './change-notifier.ts';
import type { BlobPins } from './attachments/blob-pins.ts';
import type { AuthStore } from '../auth/auth-store.ts';
import type { ImportFilter, SyncFunction } from '../channels/index.ts';
import type { ImportStats } from './import/import-stats.ts';
import type { DbStats } from './db-stats.ts';

/** What the database operations need: storage, configuration, logging and the change notifier. */
export interface DbContext {
  readonly name: string;
  readonly config: DatabaseConfig;
  readonly bucket: Bucket;
  readonly collection: Collection;
  readonly log: Logger;
  readonly notifier: ChangeNotifier;
  readonly blobPins: BlobPins;
  /** Users, roles and sessions of this database. */
  readonly auth: AuthStore;
  /** Compiled once per configuration. */
  readonly syncFunction: SyncFunction;
  /** The import filter, when configured (documents it refuses are not imported). */
  readonly importFilter: ImportFilter | null;
  /** Whether direct writes to the documents table are imported (shared bucket access). */
  readonly sharedAccess: boolean;
  readonly importStats: ImportStats;
  /** Document reads and writes, authentications and change feeds, for metrics. */
  readonly stats: DbStats;
  /** Logger under the `Import` key. */
  readonly importLog: Logger;
}
