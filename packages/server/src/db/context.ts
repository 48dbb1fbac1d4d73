import type { Logger } from '../base/logger.ts';
import type { DatabaseConfig } from '../config/schema.ts';
import type { Bucket, Collection } from '../storage/bucket.ts';
import type { ChangeNotifier } from './change-notifier.ts';

/** What the database operations need: storage, configuration, logging and the change notifier. */
export interface DbContext {
  readonly name: string;
  readonly config: DatabaseConfig;
  readonly bucket: Bucket;
  readonly collection: Collection;
  readonly log: Logger;
  readonly notifier: ChangeNotifier;
}
