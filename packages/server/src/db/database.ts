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
import { BucketWakeups } from './bucket-wakeups.ts';
import { ClusterMember, type ClusterOptions } from '../cluster/cluster-member.ts';
import { importStatus, type ImportStatus } from '../cluster/import-status.ts';
import { ReplicationManager } from '../replication/s2s/manager.ts';

/** Cluster timings (tests shorten them) and the polling backstop of cross-node wake-ups. */
export interface DatabaseClusterOptions extends ClusterOptions {
  /** How often the last sequence is polled, in case a storage notification was lost (default 1 s). */
  wakeupPollMs?: number;
}

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

/** This node's own view of its import work, beside the shared state read from the bucket. */
export interface LocalImportStatus {
  /** Whether this node runs an import worker (shared bucket access on, `import_docs` not false). */
  importing: boolean;
  /** Partitions the worker imports now, with the position it has reached. */
  partitions: Array<{ partition: number; position: number; oldest_pending_age_ms: number | null }>;
  leases_gained: number;
  leases_lost: number;
  imported: number;
  lag_ms: number;
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
  /** Server-to-server replications (config-declared and REST-defined), started once the database is open. */
  readonly replications: ReplicationManager;
  readonly #startTime = Date.now() * 1000;
  #state: DatabaseState = 'Online';
  #closed = false;
  #importer: ImportWorker | null = null;
  #cluster: ClusterMember | null = null;
  #wakeups: BucketWakeups | null = null;

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
    this.replications = new ReplicationManager(this, logger);
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
    clusterOptions: DatabaseClusterOptions = {},
  ): Promise<Database> {
    const scripts = compileScripts(name, config);
    try {
      const collection = await bucket.collection();
      const db = new Database(name, config, bucket, collection, logger, serverUuid, scripts, authOptions);
      db.notifier.announce(await bucket.lastSequence());
      await db.auth.applyConfigPrincipals({ ...(config.users ? { users: config.users } : {}), ...(config.roles ? { roles: config.roles } : {}) });
      db.notifier.announce(await bucket.lastSequence());
      await db.#startCluster(clusterOptions);
      db.compactions.start();
      db.replications.start();
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

  /** This node's id in the bucket's cluster (the server uuid). */
  get nodeId(): string {
    return this.serverUuid;
  }

  /** The partitions whose import lease this node holds now (none on a node that does not import). */
  ownedPartitions(): number[] {
    return this.#cluster?.leases?.owned() ?? [];
  }

  /** `GET /{db}/_import/status`: the bucket's nodes and where import stands in each partition. */
  async importStatus(): Promise<ImportStatus & { local: LocalImportStatus }> {
    const status = await importStatus(this.bucket, this.collection, this.serverUuid);
    const stats = this.importStats;
    const now = Date.now();
    const local: LocalImportStatus = {
      importing: this.#importer !== null,
      partitions: [...stats.partitions].sort(([a], [b]) => a - b).map(([partition, state]) => ({
        partition,
        position: state.position,
        oldest_pending_age_ms: state.oldestPendingAt === null ? null : Math.max(0, now - state.oldestPendingAt),
      })),
      leases_gained: stats.leasesGained,
      leases_lost: stats.leasesLost,
      imported: stats.imported,
      lag_ms: stats.lagMs(now),
    };
    return { ...status, local };
  }

  /** Whether this node imports direct writes: shared bucket access on and `import_docs` not false. */
  #importsDocs(): boolean {
    const { enable_shared_bucket_access: shared, import_docs: importDocs } = this.config;
    if (!shared) {
      if (importDocs === true) this.importLog.warn('import_docs is ignored: enable_shared_bucket_access is false');
      return false;
    }
    if (importDocs === false) {
      this.importLog.info('import_docs is false: this node does not import direct writes (it still imports on demand)');
      return false;
    }
    return true;
  }

  /**
   * Joins the bucket's cluster as a node; an import node takes leases on its share of the partitions and
   * imports the direct writes of those. Alone on its bucket (SQLite), a node simply holds every partition.
   */
  async #startCluster(opts: DatabaseClusterOptions): Promise<void> {
    const importDocs = this.#importsDocs();
    const { wakeupPollMs, ...clusterOptions } = opts;
    this.#cluster = new ClusterMember(this.bucket, this.collection.name, this.importLog, { id: this.serverUuid, importDocs }, clusterOptions);
    await this.#cluster.start();
    if (importDocs && this.#cluster.leases) {
      this.#importer = new ImportWorker(this, { ownership: this.#cluster.leases });
      this.#importer.start();
    }
    const importer = this.#importer;
    this.#wakeups = new BucketWakeups(this.bucket, this.notifier, this.log, {
      ...(wakeupPollMs !== undefined ? { pollMs: wakeupPollMs } : {}),
      ...(importer ? { onMutations: () => importer.nudge() } : {}),
    });
    this.#wakeups.start();
  }

  async close(): Promise<void> {
    await this.#shutdown(true);
  }

  /**
   * Test hook: stops like a killed process would, leaving this node's record and import leases in the bucket
   * to expire, so that tests can watch the other nodes take its partitions over.
   */
  async abandonForTests(): Promise<void> {
    await this.#shutdown(false);
  }

  /** `releaseCluster`: give up this node's record and import leases (a clean close) or leave them to expire. */
  async #shutdown(releaseCluster: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#state = 'Offline';
    await this.replications.stop();
    if (!releaseCluster) await this.#cluster?.halt();
    await this.#wakeups?.stop();
    await this.#importer?.stop();
    // After the importer: its leases are released once no batch is in flight.
    if (releaseCluster) await this.#cluster?.stop();
    await this.compactions.close();
    this.syncFunction.dispose();
    this.importFilter?.dispose();
    await this.bucket.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
