import { createHash } from 'node:crypto';
import pg from 'pg';
import { isSynclineError, unavailable } from '../../base/errors.ts';

/** Quote an SQL identifier. */
export const q = (ident: string): string => `"${ident.replaceAll('"', '""')}"`;

/** Quote an SQL string literal (for DDL, where parameters cannot be used). */
export const lit = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** PostgreSQL truncates identifiers longer than this many bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Hex digest of a text (for short, stable names and lock keys). */
export const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A signed 32-bit key derived from a text (for advisory locks). */
export const int4Key = (text: string): number => createHash('sha256').update(text).digest().readInt32BE(0);

const INT8_OID = 20;

/**
 * Per-pool type parsers: int8 (bigint, count(*)) as JS numbers. Counters and cas values stay far below 2^53.
 * The global pg.types registry is left alone, so other users of `pg` in the process are not affected.
 */
export const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** Where the server is, for error messages (never the password). */
export interface ServerInfo {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string | null;
}

export function serverInfo(config: pg.ClientConfig): ServerInfo {
  const client = new pg.Client(config);
  const password = typeof client.password === 'string' ? client.password : null;
  return {
    host: client.host,
    port: client.port,
    user: client.user ?? '',
    database: client.database ?? '',
    password: password === '' ? null : password,
  };
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);

const CONNECTION_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /not queryable/i,
  /Client was closed/i,
  /connection is closed/i,
];

const codeOf = (err: unknown): string =>
  typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : '';

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** True when the error means the server cannot be reached right now (down, restarting, network). */
export function isConnectionError(err: unknown): boolean {
  if (isSynclineError(err)) return err.status === 503;
  const code = codeOf(err);
  if (CONNECTION_CODES.has(code) || code.startsWith('08')) return true;
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  return CONNECTION_MESSAGES.some((re) => re.test(messageOf(err)));
}

const scrub = (text: string, info: ServerInfo): string =>
  info.password ? text.split(info.password).join('***') : text;

/** A clear message for a failure to connect or log in; never contains the password. */
export function describeConnectError(err: unknown, info: ServerInfo): string {
  const code = codeOf(err);
  const where = `${info.host}:${info.port}`;
  let message: string;
  if (code === '28P01' || code === '28000') {
    message = code === '28P01'
      ? `PostgreSQL authentication failed for user "${info.user}" at ${where}`
      : `PostgreSQL refused the connection for user "${info.user}" to database "${info.database}" at ${where}: ${messageOf(err)}`;
  } else if (code === '3D000') {
    message = `PostgreSQL database "${info.database}" does not exist at ${where}`;
  } else {
    const detail = code && !/^\d/.test(code) ? code : messageOf(err) || code || 'unknown error';
    message = `cannot connect to PostgreSQL at ${where}: ${detail}`;
  }
  return scrub(message, info);
}

/**
 * Turn a driver error into what the rest of the server expects: connection failures become 503
 * (service_unavailable); anything else is rethrown as is (with the password scrubbed from its message).
 */
export function translateError(err: unknown, info: ServerInfo): unknown {
  if (isSynclineError(err)) return err;
  if (isConnectionError(err)) return unavailable(`storage unreachable: ${describeConnectError(err, info)}`);
  if (err instanceof Error && info.password && err.message.includes(info.password)) err.message = scrub(err.message, info);
  return err;
}

type Params = readonly unknown[];

/** Thrown inside PgDb.transaction to roll back and return a value (not an error). */
export class RollbackWith<T> {
  readonly value: T;
  constructor(value: T) {
    this.value = value;
  }
}

/** Something that runs queries: the pool or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: Params): Promise<pg.QueryResult<R>>;
}

const statementNames = new Map<string, string>();

/**
 * Parameterised statements are prepared once per connection (named after a digest of their text), which spares
 * PostgreSQL parsing and planning the larger multi-row statements on every call.
 */
export function statement(sql: string, params: Params | undefined): pg.QueryConfig | string {
  if (params === undefined) return sql;
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `syncline_${digest(sql).slice(0, 24)}`;
    if (statementNames.size < 10_000) statementNames.set(sql, name);
  }
  return { name, text: sql, values: params as unknown[] };
}

const preparing = (client: pg.ClientBase): Queryable => ({
  query: async <R extends pg.QueryResultRow>(sql: string, params?: Params) => client.query<R>(statement(sql, params) as pg.QueryConfig),
});

/** The pool of a bucket, with error translation and transactions. */
export class PgDb {
  readonly pool: pg.Pool;
  readonly info: ServerInfo;
  /** Backend process ids of this pool's connections (to recognise our own notifications). */
  readonly backendPids = new Set<number>();
  readonly config: pg.ClientConfig;

  constructor(config: pg.ClientConfig, poolSize: number) {
    this.config = config;
    this.info = serverInfo(config);
    this.pool = new pg.Pool({ ...config, max: poolSize, idleTimeoutMillis: 30_000 });
    // An idle (or checked-out) client whose connection breaks emits 'error' on the pool: without a listener
    // the process would crash. The pool drops the client and opens new ones on demand.
    this.pool.on('error', () => {});
    this.pool.on('connect', (client) => {
      client.on('error', () => {});
      const pid = backendPid(client);
      if (pid !== null) this.backendPids.add(pid);
    });
    this.pool.on('remove', (client) => {
      const pid = backendPid(client);
      if (pid !== null) this.backendPids.delete(pid);
    });
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: Params): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(statement(sql, params) as pg.QueryConfig);
    } catch (err) {
      throw translateError(err, this.info);
    }
  }

  async rows<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: Params): Promise<R[]> {
    return (await this.query<R>(sql, params)).rows;
  }

  /**
   * Run fn in a transaction (READ COMMITTED). Deadlocks and serialization failures are retried a few times;
   * connection failures become 503. The client is discarded when its connection is in doubt.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, opts: { durable?: boolean } = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw translateError(err, this.info);
      }
      let broken: Error | undefined;
      try {
        await client.query(opts.durable === false ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN');
        const result = await fn(preparing(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (isConnectionError(err)) {
          broken = err instanceof Error ? err : new Error(String(err));
        } else {
          await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
            broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
          });
        }
        if (err instanceof RollbackWith && !broken) return err.value as T;
        const code = codeOf(err);
        if ((code === '40P01' || code === '40001') && attempt < 4 && !broken) continue;
        throw translateError(err, this.info);
      } finally {
        client.release(broken ?? false);
      }
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}

function backendPid(client: pg.Client): number | null {
  const pid = (client as unknown as { processID?: number | null }).processID;
  return typeof pid === 'number' ? pid : null;
}
