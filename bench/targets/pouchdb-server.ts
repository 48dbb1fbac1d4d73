import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { HttpClient, ensureDatabase } from '../http-client.ts';
import { BENCH_DIR, REPO_ROOT, TARGET_LABELS } from '../settings.ts';
import { freePort, spawnServer, waitForHttp } from './child-process.ts';
import { externalTarget } from './external.ts';
import type { HttpTarget } from './types.ts';

/** express-pouchdb on express@4, LevelDB on disk, in a child process (or an external URL). */
export async function startPouchdbServer(tmpRoot: string, externalUrl: string | undefined): Promise<HttpTarget> {
  if (externalUrl) return externalTarget(TARGET_LABELS.pouchdb, externalUrl);

  const dir = path.join(tmpRoot, 'pouchdb-server');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const script = path.join(BENCH_DIR, 'peers', 'pouchdb-server.ts');
  const child = spawnServer(
    TARGET_LABELS.pouchdb,
    process.execPath,
    ['--import', 'tsx', script, '--port', String(port), '--dir', path.join(dir, 'data')],
    { cwd: REPO_ROOT, logPath: path.join(dir, 'server.log'), ipc: true },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const client = new HttpClient(baseUrl);
  try {
    await waitForHttp(`${baseUrl}/`, child);
    await ensureDatabase(client, 'bench');
  } catch (err) {
    client.close();
    await child.stop();
    throw err;
  }
  return {
    label: TARGET_LABELS.pouchdb,
    description: `express-pouchdb (minimumForPouchDB) + LevelDB (no fsync per write: leveldown default), pid ${child.pid}, ${baseUrl}`,
    client,
    async stop() {
      client.close();
      await child.stop();
    },
  };
}
