/**
 * One `syncline serve` process serving a single database on shared storage (PostgreSQL), for the `postgres`
 * section: several nodes on the same PostgreSQL database and schema form a cluster.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HttpClient } from '../http-client.ts';
import { REPO_ROOT } from '../settings.ts';
import { freePort, logTail, spawnServer, waitForHttp } from './child-process.ts';

export interface SynclineNode {
  readonly name: string;
  readonly pid: number;
  readonly adminClient: HttpClient;
  readonly metricsUrl: string;
  readonly logPath: string;
  stop(): Promise<void>;
}

export interface NodeOptions {
  /** Node name, for progress lines and the process list (e.g. "importer-1"). */
  name: string;
  /** Directory for the node's config and log. */
  dir: string;
  /** The Syncline database name (also the PostgreSQL schema, by default). */
  db: string;
  /** `server` of the database config (a PostgreSQL URL). */
  server: string;
  importDocs: boolean;
  poolSize: number;
}

const OPEN_GUEST = { GUEST: { disabled: false, admin_channels: ['*'] } } as const;

export async function startSynclineNode(options: NodeOptions): Promise<SynclineNode> {
  const bin = path.join(REPO_ROOT, 'packages', 'server', 'bin', 'syncline.js');
  if (!existsSync(bin)) throw new Error(`${path.relative(REPO_ROOT, bin)} does not exist`);
  mkdirSync(options.dir, { recursive: true });
  const [port, adminPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const config = {
    interface: `127.0.0.1:${port}`,
    adminInterface: `127.0.0.1:${adminPort}`,
    metricsInterface: `127.0.0.1:${metricsPort}`,
    logging: { console: { log_level: 'warn' } },
    databases: {
      [options.db]: {
        server: options.server,
        pool_size: options.poolSize,
        enable_shared_bucket_access: true,
        import_docs: options.importDocs,
        users: OPEN_GUEST,
      },
    },
  };
  const configPath = path.join(options.dir, `${options.name}.json`);
  writeFileSync(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  const logPath = path.join(options.dir, `${options.name}.log`);
  const child = spawnServer(`Syncline ${options.name}`, process.execPath, [bin, 'serve', '--config', configPath], { cwd: REPO_ROOT, logPath });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const adminClient = new HttpClient(adminUrl);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, child);
    await waitForHttp(`${adminUrl}/${options.db}/`, child, 30_000);
  } catch (err) {
    adminClient.close();
    await child.stop();
    throw err;
  }
  return {
    name: options.name,
    pid: child.pid,
    adminClient,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    logPath,
    async stop() {
      adminClient.close();
      const exit = child.exitCode();
      await child.stop();
      if (exit !== null) throw new Error(`Syncline ${options.name} had exited (${exit}) before the end of its run:\n${logTail(logPath, 10)}`);
    },
  };
}
