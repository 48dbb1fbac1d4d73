import { randomUUID } from 'node:crypto';
import { fileExists, notFound } from './base/errors.ts';
import { keyed, type Logger } from './base/logger.ts';
import { checkDatabaseName, ConfigError, parseDatabaseConfig } from './config/load.ts';
import type { DatabaseConfig, ServerConfig } from './config/schema.ts';
import { Database } from './db/database.ts';
import { openBucket } from './storage/open.ts';
import { badRequest, isSynclineError } from './base/errors.ts';
import type { AuthStoreOptions } from './auth/auth-store.ts';
import { SyncFunctionError } from './channels/index.ts';
import { ServerMetrics } from './metrics/registry.ts';

export const VERSION = '0.1.0';

/**
 * The running server's state shared by both listeners: configuration, logger and the open databases.
 * Databases can be added, reconfigured and removed at run time through the admin API.
 */
export class ServerContext implements AsyncDisposable {
  readonly uuid = randomUUID().replaceAll('-', '');
  /** Prometheus metrics and expvar statistics of this server (read from the databases when scraped). */
  readonly metrics = new ServerMetrics(this);
  readonly #databases = new Map<string, Database>();
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

  async #open(name: string, config: DatabaseConfig): Promise<Database> {
    const bucket = await openBucket(config.server!, { baseDir: this.baseDir });
    let db: Database;
    try {
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
    this.#log.info({ db: name, server: config.server }, 'database online');
    return db;
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
    const old = this.database(name);
    // The closed database stays registered, answering 503, until its replacement is online.
    await old.close();
    try {
      return await this.#open(name, config);
    } catch (err) {
      this.#databases.delete(name);
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
