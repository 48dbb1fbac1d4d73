import { randomUUID } from 'node:crypto';
import { fileExists, notFound } from './base/errors.ts';
import { keyed, type Logger } from './base/logger.ts';
import { checkDatabaseName, ConfigError, parseDatabaseConfig } from './config/load.ts';
import type { DatabaseConfig, ServerConfig } from './config/schema.ts';
import { Database } from './db/database.ts';
import { redactUrl } from './config/redact.ts';
import { readSharedConfig, SHARED_CONFIG_KEY, storeSharedConfig, withLocalSettings, type SharedConfig } from './config/shared-config.ts';
import { openBucket } from './storage/open.ts';
import { badRequest, isSynclineError } from './base/errors.ts';
import type { AuthStoreOptions } from './auth/auth-store.ts';
import { SyncFunctionError } from './channels/index.ts';
import { ServerMetrics } from './metrics/registry.ts';

export const VERSION = '0.1.0';

/** How often each node looks for a configuration stored by another node, when no notification came. */
const SHARED_CONFIG_POLL_MS = 2000;

/**
 * The running server's state shared by both listeners: configuration, logger and the open databases.
 * Databases can be added, reconfigured and removed at run time through the admin API.
 */
export class ServerContext implements AsyncDisposable {
  readonly uuid = randomUUID().replaceAll('-', '');
  /** Prometheus metrics and expvar statistics of this server (read from the databases when scraped). */
  readonly metrics = new ServerMetrics(this);
  readonly #databases = new Map<string, Database>();
  /** Each database's settings from this node's config file (or its PUT), before any stored configuration. */
  readonly #localConfigs = new Map<string, DatabaseConfig>();
  readonly #configChanges = new Map<string, Promise<unknown>>();
  /** Version of the stored configuration each open database runs with (0: the local one). */
  readonly #appliedConfig = new WeakMap<Database, number>();
  readonly #log: Logger;

  constructor(
    readonly config: ServerConfig,
    readonly logger: Logger,
    readonly baseDir: string,
    /** Tests lower the password KDF cost here. */
    readonly authOptions: AuthStoreOptions = {},
  ) {
    this.#log = keyed(logger, 'Config');
  }

  /** Opens every database of the config file; a storage that cannot be opened is a config error naming it. */
  async openConfigured(): Promise<void> {
    for (const [name, dbConfig] of Object.entries(this.config.databases)) {
      try {
        await this.#open(name, dbConfig);
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        throw new ConfigError(`databases.${name}.server`, err instanceof Error ? err.message : String(err));
      }
    }
  }

  /**
   * Opens a database on this node's settings (`local`). A configuration stored in the database by
   * `PUT /{db}/_config` (on any node) takes precedence over the local one, except for node-local keys.
   */
  async #open(name: string, local: DatabaseConfig, stored?: SharedConfig | null): Promise<Database> {
    const bucket = await openBucket(local.server!, { baseDir: this.baseDir, schema: local.schema ?? name, poolSize: local.pool_size });
    let db: Database;
    let applied = 0;
    try {
      let config = local;
      const shared = stored === undefined ? await readSharedConfig(bucket) : stored;
      if (shared) {
        try {
          config = parseDatabaseConfig(name, withLocalSettings(shared.config, local));
          applied = shared.version;
        } catch (err) {
          this.#log.warn({ db: name, err: (err as Error).message }, 'stored database configuration is invalid; using the local one');
        }
      }
      db = await Database.open(name, config, bucket, this.logger, this.uuid, this.authOptions);
    } catch (err) {
      await bucket.close();
      if (err instanceof SyncFunctionError) {
        const where = err.line === undefined || err.message.includes(`line ${err.line}`) ? '' : ` (line ${err.line})`;
        const field = err.message.startsWith('import filter') ? 'import_filter' : 'sync';
        throw new ConfigError(`databases.${name}.${field}`, `${err.message}${where}`);
      }
      if (isSynclineError(err) && err.status === 400) throw new ConfigError(`databases.${name}`, err.reason);
      throw err;
    }
    this.#databases.set(name, db);
    this.#localConfigs.set(name, local);
    this.#appliedConfig.set(db, applied);
    this.#followSharedConfig(name, db);
    this.#log.info({ db: name, server: redactUrl(local.server!, '***') }, 'database online');
    return db;
  }

  /** Applies configuration changes stored by other nodes: on a storage notification, or by polling. */
  #followSharedConfig(name: string, db: Database): void {
    let checking = false;
    const stop = (): void => {
      unwatch();
      clearInterval(timer);
    };
    const check = async (): Promise<void> => {
      if (db.closed) return stop();
      if (checking) return;
      checking = true;
      try {
        const isNewer = (shared: SharedConfig | null): shared is SharedConfig =>
          shared !== null && shared.version > (this.#appliedConfig.get(db) ?? 0) && !db.closed && this.#databases.get(name) === db;
        if (!isNewer(await readSharedConfig(db.bucket))) return;
        await this.#serialized(name, async () => {
          // Read again once earlier changes are done: one of them may have stored this very version.
          const shared = await readSharedConfig(db.bucket);
          if (!isNewer(shared)) return;
          this.#log.info({ db: name, version: shared.version }, 'database configuration changed on another node; reloading');
          try {
            await this.#replace(name, db, () => this.#open(name, this.#localConfigs.get(name) ?? db.config, shared));
          } catch (err) {
            // Still served as it was; not tried again until the stored configuration changes.
            const current = this.#databases.get(name);
            if (current) this.#appliedConfig.set(current, shared.version);
            this.#log.error({ db: name, err }, 'could not apply the configuration stored by another node');
          }
        });
      } catch (err) {
        this.#log.warn({ db: name, err: (err as Error).message }, 'could not read the stored database configuration');
      } finally {
        checking = false;
      }
    };
    const unwatch = db.bucket.watch((event) => {
      if (event.kind === 'resync' || (event.kind === 'record' && event.key === SHARED_CONFIG_KEY)) void check();
    });
    const timer = setInterval(() => void check(), SHARED_CONFIG_POLL_MS);
    timer.unref();
  }

  /** Runs configuration changes of one database one after another. */
  #serialized<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#configChanges.get(name) ?? Promise.resolve();
    const next = previous.then(task, task);
    this.#configChanges.set(name, next.catch(() => {}));
    return next;
  }

  database(name: string): Database {
    const db = this.#databases.get(name);
    if (!db) throw notFound(`no such database "${name}"`);
    return db;
  }

  databaseNames(): string[] {
    return [...this.#databases.keys()].sort();
  }

  /** PUT /{db}/ on the admin API. */
  async createDatabase(name: string, input: unknown): Promise<Database> {
    try {
      checkDatabaseName(name);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
    if (this.#databases.has(name)) throw fileExists(`Duplicate database name "${name}"`);
    return this.#open(name, this.#validate(name, input));
  }

  /** PUT /{db}/_config: reopens the database with the new configuration. */
  async reconfigure(name: string, input: unknown): Promise<Database> {
    const config = this.#validate(name, input);
    return this.#serialized(name, async () => {
      let db: Database;
      try {
        db = await this.#replace(name, this.database(name), () => this.#open(name, config, null));
      } catch (err) {
        if (err instanceof ConfigError) throw badRequest(err.message);
        throw err;
      }
      // Shared with the other nodes through the database, which they watch.
      this.#appliedConfig.set(db, await storeSharedConfig(db.bucket, config));
      return db;
    });
  }

  /**
   * Closes `old` and opens its replacement. The closed database stays registered, answering 503, until the
   * replacement is online; when the replacement cannot be opened (a sync function or a replication that does
   * not compile, say), the database is opened again as it was, and the error is thrown.
   */
  async #replace(name: string, old: Database, open: () => Promise<Database>): Promise<Database> {
    const previousLocal = this.#localConfigs.get(name) ?? old.config;
    const previousApplied = this.#appliedConfig.get(old) ?? 0;
    await old.close();
    try {
      return await open();
    } catch (err) {
      try {
        const restored = await this.#open(name, old.config, null);
        this.#localConfigs.set(name, previousLocal);
        this.#appliedConfig.set(restored, previousApplied);
      } catch (reopenError) {
        this.#databases.delete(name);
        this.#log.error({ db: name, err: reopenError }, 'could not reopen the database with its previous configuration');
      }
      throw err;
    }
  }

  async deleteDatabase(name: string): Promise<void> {
    const db = this.database(name);
    this.#databases.delete(name);
    await db.close();
    this.#log.info({ db: name }, 'database removed');
  }

  #validate(name: string, input: unknown): DatabaseConfig {
    try {
      return parseDatabaseConfig(name, input ?? {});
    } catch (err) {
      if (err instanceof ConfigError) throw badRequest(err.message);
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const db of this.#databases.values()) await db.close();
    this.#databases.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
