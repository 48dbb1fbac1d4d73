import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HttpClient } from '../http-client.ts';
import { REPO_ROOT, TARGET_LABELS } from '../settings.ts';
import { freePort, spawnServer, waitForHttp } from './child-process.ts';
import { ACCESS_DATABASES } from '../workloads/access-control.ts';
import { WARM_UP_DB } from '../workloads/warm-up.ts';
import { externalTarget } from './external.ts';
import type { HttpTarget } from './types.ts';

/**
 * Unauthenticated requests act as GUEST, which Sync Gateway (and Syncline) disables by default: the
 * workloads that also run against PouchDB Server send no credentials, so GUEST may read and write everything.
 */
const OPEN_GUEST = { users: { GUEST: { disabled: false, admin_channels: ['*'] } } } as const;

/** Databases the shared workloads use; Syncline serves only configured databases. */
const DATABASES = ['bench', 'pull', 'push', WARM_UP_DB] as const;

export async function startSyncline(tmpRoot: string, externalUrl: string | undefined, externalAdminUrl?: string): Promise<HttpTarget> {
  if (externalUrl) return externalTarget(TARGET_LABELS.syncline, externalUrl, externalAdminUrl);

  const bin = path.join(REPO_ROOT, 'packages', 'server', 'bin', 'syncline.js');
  if (!existsSync(bin)) {
    throw new Error(`${path.relative(REPO_ROOT, bin)} does not exist yet (set BENCH_SYNCLINE_URL to use a running server)`);
  }
  const dir = path.join(tmpRoot, 'syncline');
  mkdirSync(dir, { recursive: true });
  const [port, adminPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const config = {
    interface: `127.0.0.1:${port}`,
    adminInterface: `127.0.0.1:${adminPort}`,
    metricsInterface: `127.0.0.1:${metricsPort}`,
    logging: { console: { log_level: 'warn' } },
    databases: Object.fromEntries([
      ...DATABASES.map((db) => [db, { server: `sqlite:${path.join(dir, `${db}.sqlite`)}`, ...OPEN_GUEST }]),
      ...Object.entries(ACCESS_DATABASES).map(([db, dbConfig]) => [db, { server: `sqlite:${path.join(dir, `${db}.sqlite`)}`, ...dbConfig }]),
    ]),
  };
  const configPath = path.join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const child = spawnServer(TARGET_LABELS.syncline, process.execPath, [bin, 'serve', '--config', configPath], {
    cwd: REPO_ROOT,
    logPath: path.join(dir, 'server.log'),
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const client = new HttpClient(baseUrl);
  const adminClient = new HttpClient(adminUrl);
  try {
    await waitForHttp(`${baseUrl}/`, child);
    await waitForHttp(`${baseUrl}/bench/`, child, 5000);
  } catch (err) {
    client.close();
    adminClient.close();
    await child.stop();
    throw err;
  }
  return {
    label: TARGET_LABELS.syncline,
    description: `packages/server/bin/syncline.js, SQLite on disk, pid ${child.pid}, ${baseUrl} (admin API ${adminUrl})`,
    client,
    adminClient,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    async stop() {
      client.close();
      adminClient.close();
      await child.stop();
    },
  };
}
