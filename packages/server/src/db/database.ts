import type { Logger } from '../base/logger.ts';
import { keyed } from '../base/logger.ts';
import type { DatabaseConfig } from '../config/schema.ts';
import type { Bucket, Collection } from '../storage/bucket.ts';
import { ChangeNotifier } from './change-notifier.ts';
import { BlobPins } from './attachments/blob-pins.ts';
import type { DbContext } from './context.ts';
import { AuthStore, type AuthStoreOptions } from '../auth/auth-store.ts';
import { DEFAULT_SYNC_FUNCTION, ImportFilter, SyncFunction } from '../channels/index.ts';
import { ImportStats } from './import/import-stats.ts';
import { Compactions } from './compactions.ts';
import { DbStats } from './db-stats.ts';
import { ImportWorker } from './import/import-worker.ts';

interface Scripts {
  syncFunction: SyncFunction;
  importFilter: ImportFilter | null;
}

/** Compiles the database's JavaScript; throws SyncFunctionError (naming the line) when one does not compile. */
function compileScripts(name: string, config: DatabaseConfig): Scripts {
  const timeoutMs = Math.round(config.javascript_timeout_secs * 1000);
  const syncFunction = SyncFunction.compile(config.sync ?? DEFAULT_SYNC_FUNCTION, { dbName: name, timeoutMs });
  if (config.import_filter === undefined) return { syncFunction, importFilter: null };
  try {
    return { syncFunction, importFilter: ImportFilter.compile(config.import_filter, { dbName: name, timeoutMs }) };
  } catch (err) {
    syncFunction.dispose();
    throw err;
  }
}

/** Offline and Resyncing databases answer 503 except on the admin endpoints that manage them. */
export type DatabaseState = 'Online' | 'Offline' | 'Resyncing';

export interface DatabaseInfo {
  db_name: string;
  update_seq: number;
  committed_update_seq: number;
  doc_count: number;
  instance_start_time: number;
  compact_running: boolean;
  purge_seq: number;
  disk_format_version: number;
  state: DatabaseState;
  server_uuid: string;
}

/** One served database: its bucket, its default collection and the shared state of its feeds. */
export class Database implements DbContext, AsyncDisposable {
  readonly notifier = new ChangeNotifier();
  readonly blobPins = new BlobPins();
  readonly log: Logger;
  readonly auth: AuthStore;
  readonly syncFunction: SyncFunction;
  readonly importFilter: ImportFilter | null;
  readonly sharedAccess: boolean;
  readonly importStats = new ImportStats();
  /** Tombstone purging (on a timer, per metadata_purge_interval) and attachment compaction. */
  readonly compactions: Compactions = new Compactions(this);
  readonly stats = new DbStats();
  readonly importLog: Logger;
  readonly #startTime = Date.now() * 1000;
  #state: DatabaseState = 'Online';
  #closed = false;
  #importer: ImportWorker | null = null;

  private constructor(
    readonly name: string,
    readonly config: DatabaseConfig,
    readonly bucket: Bucket,
    readonly collection: Collection,
    logger: Logger,
    readonly serverUuid: string,
    scripts: Scripts,
    authOptions: AuthStoreOptions,
  ) {
    this.log = keyed(logger, 'CRUD', { db: name });
    this.importLog = keyed(logger, 'Import', { db: name });
    this.syncFunction = scripts.syncFunction;
    this.importFilter = scripts.importFilter;
    this.sharedAccess = config.enable_shared_bucket_access;
    this.auth = new AuthStore(bucket, logger, {
      allowEmptyPassword: config.allow_empty_password,
      ...authOptions,
      // A user or role write changes access: wake the change feeds.
      onSequence: (seq) => {
        this.notifier.announce(seq);
        authOptions.onSequence?.(seq);
      },
    });
  }

  /**
   * Opens a database: compiles its sync function (throws SyncFunctionError, naming the line, when it does not
   * compile) and creates or updates the users and roles its config declares.
   */
  static async open(
    name: string,
    config: DatabaseConfig,
    bucket: Bucket,
    logger: Logger,
    serverUuid: string,
    authOptions: AuthStoreOptions = {},
  ): Promise<Database> {
    const scripts = compileScripts(name, config);
    try {
      const collection = await bucket.collection();
      const db = new Database(name, config, bucket, collection, logger, serverUuid, scripts, authOptions);
      db.notifier.announce(await bucket.lastSequence());
      await db.auth.applyConfigPrincipals({ ...(config.users ? { users: config.users } : {}), ...(config.roles ? { roles: config.roles } : {}) });
      db.notifier.announce(await bucket.lastSequence());
      db.#startImport();
      db.compactions.start();
      return db;
    } catch (err) {
      scripts.syncFunction.dispose();
      scripts.importFilter?.dispose();
      throw err;
    }
  }

  get state(): DatabaseState {
    return this.#state;
  }

  /** True once closed (reconfigured or removed): it cannot be brought online again. */
  get closed(): boolean {
    return this.#closed;
  }

  /** POST /{db}/_offline, _online and _resync move an open database between states. */
  setState(state: DatabaseState): void {
    if (!this.#closed) this.#state = state;
  }

  async info(): Promise<DatabaseInfo> {
    const seq = await this.bucket.lastSequence();
    return {
      db_name: this.name,
      update_seq: seq,
      committed_update_seq: seq,
      doc_count: await this.collection.countLive(),
      instance_start_time: this.#startTime,
      compact_running: this.compactions.running,
      purge_seq: 0,
      disk_format_version: 0,
      state: this.#state,
      server_uuid: this.serverUuid,
    };
  }

  /** Imports direct writes when shared bucket access is on and this node takes part in import (`import_docs`). */
  #startImport(): void {
    const { enable_shared_bucket_access: shared, import_docs: importDocs } = this.config;
    if (!shared) {
      if (importDocs === true) this.importLog.warn('import_docs is ignored: enable_shared_bucket_access is false');
      return;
    }
    if (importDocs === false) {
      this.importLog.info('import_docs is false: this node does not import direct writes (it still imports on demand)');
      return;
    }
    this.#importer = new ImportWorker(this);
    this.#importer.start();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#state = 'Offline';
    await this.#importer?.stop();
    await this.compactions.close();
    this.syncFunction.dispose();
    this.importFilter?.dispose();
    await this.bucket.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
