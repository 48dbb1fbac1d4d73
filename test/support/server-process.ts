import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = resolve(import.meta.dirname, '../../packages/server/bin/syncline.js');

export interface TestServer extends AsyncDisposable {
  /** Public API base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  adminUrl: string;
  /** Metrics API base URL (`/_metrics`, `/_ping`); undefined when `extra` disables it (metricsInterface "" or null). */
  metricsUrl: string | undefined;
  /** Temp directory holding the config and the SQLite files; removed on dispose unless `keepDir`. */
  dir: string;
  configFile: string;
  process: ChildProcess;
  /** Everything the server printed, for assertions on logs. */
  output: string[];
  /** Stops with SIGTERM (or the given signal) and waits for exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts the same config again on the same directory (after a stop or a kill). */
  restart(): Promise<TestServer>;
}

export interface TestServerOptions {
  /**
   * Per-database configs; default one database "db" on an SQLite file in the temp dir. A database whose config
   * declares no `users` gets an enabled GUEST that reads every channel (OPEN_GUEST), so that tests not about
   * authentication can use the public API without logging in; declare `users` to test authentication.
   */
  databases?: Record<string, Record<string, unknown>>;
  /** Extra top-level config keys. */
  extra?: Record<string, unknown>;
  /** Reuse this directory (and its data) instead of a new temp one. */
  dir?: string;
  keepDir?: boolean;
  /**
   * Console log level. Above info (warn, error, none) the server still logs at info for the HTTP key only:
   * the harness finds the listening ports in those lines.
   */
  logLevel?: string;
}

function waitForUrls(child: ChildProcess, output: string[], withMetrics: boolean): Promise<{ url: string; adminUrl: string; metricsUrl: string | undefined }> {
  return new Promise((resolvePromise, reject) => {
    let url: string | undefined;
    let adminUrl: string | undefined;
    let metricsUrl: string | undefined;
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      output.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'public API listening') url = entry.url;
        if (entry.msg === 'admin API listening') adminUrl = entry.url;
        if (entry.msg === 'metrics API listening') metricsUrl = entry.url;
      } catch {
        // not a log line
      }
      if (url && adminUrl && (metricsUrl || !withMetrics)) resolvePromise({ url, adminUrl, metricsUrl });
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${output.join('\n')}`)));
  });
}

function consoleLogging(level: string): Record<string, unknown> {
  if (level === 'warn' || level === 'error' || level === 'none') return { log_level: 'info', log_keys: ['HTTP'] };
  return { log_level: level };
}

/** Unauthenticated requests act as this GUEST: enabled, every channel. */
export const OPEN_GUEST = { GUEST: { disabled: false, admin_channels: ['*'] } } as const;

/** The config of one test database: its SQLite file in `dir`, and OPEN_GUEST unless it declares users. */
export function testDatabaseConfig(dir: string, name: string, db: Record<string, unknown>): Record<string, unknown> {
  return { server: `sqlite:${join(dir, `${name}.sqlite`)}`, ...('users' in db ? {} : { users: OPEN_GUEST }), ...db };
}

/**
 * Environment of the server process: a cheap password-hashing cost (read only by the CLI, for tests) keeps
 * tests that create users fast.
 */
const TEST_ENV = { ...process.env, SYNCLINE_TEST_SCRYPT_N: '1024' };

/** Starts a real Syncline server process on loopback ports chosen by the OS. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'syncline-e2e-')));
  const databases = opts.databases ?? { db: {} };
  const config = {
    interface: '127.0.0.1:0',
    adminInterface: '127.0.0.1:0',
    metricsInterface: '127.0.0.1:0',
    logging: { console: consoleLogging(opts.logLevel ?? 'info') },
    ...opts.extra,
    databases: Object.fromEntries(Object.entries(databases).map(([name, db]) => [name, testDatabaseConfig(dir, name, db)])),
  };
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const output: string[] = [];
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], { cwd: dir, env: TEST_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const { url, adminUrl, metricsUrl } = await waitForUrls(child, output, typeof config.metricsInterface === 'string' && config.metricsInterface !== '');
  let exited: Promise<number | null> = new Promise((r) => child.once('exit', (code) => r(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const code = await exited;
    exited = Promise.resolve(code);
    return code;
  };
  const server: TestServer = {
    url,
    adminUrl,
    metricsUrl,
    dir,
    configFile,
    process: child,
    output,
    stop,
    restart: async () => {
      await stop();
      return startTestServer({ ...opts, dir, keepDir: opts.keepDir ?? false });
    },
    [Symbol.asyncDispose]: async () => {
      await stop();
      if (!opts.keepDir && !opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
