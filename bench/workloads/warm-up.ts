import { makeDocs } from '../docs.ts';
import { ensureDatabase, postBulkDocs } from '../http-client.ts';
import { memoryDatabase, replicate } from '../pouchdb-client.ts';
import type { Settings } from '../settings.ts';
import type { HttpTarget } from '../targets/types.ts';
import { freshIdPrefix, type Log } from './common.ts';

export const WARM_UP_DB = 'warmup';
const WARM_UP_DOCS = 300;

/**
 * A small unmeasured pull and push against the target, so the PouchDB client
 * code in this process is already JIT-compiled when the first measured
 * replication starts (otherwise whichever server goes first pays for it).
 */
export async function warmUpReplication(target: HttpTarget, settings: Settings, log: Log): Promise<void> {
  const started = performance.now();
  const remote = `${target.client.baseUrl}/${WARM_UP_DB}`;
  await ensureDatabase(target.client, WARM_UP_DB);
  const prefix = await freshIdPrefix(target.client, WARM_UP_DB, 'warm');
  const docs = makeDocs(settings.seed, WARM_UP_DOCS * 2, 9_000_000).map((doc, i) => ({ _id: `${prefix}-${i}`, ...doc }));
  await postBulkDocs(target.client, WARM_UP_DB, docs.slice(0, WARM_UP_DOCS));

  const local = memoryDatabase('bench-warmup');
  try {
    const pulled = await replicate(remote, local);
    await local.bulkDocs(docs.slice(WARM_UP_DOCS));
    const pushed = await replicate(local, remote);
    if (!pulled.ok || !pushed.ok) throw new Error('warm-up replication failed');
  } finally {
    await local.destroy();
  }
  log(`warm-up (${WARM_UP_DOCS} docs pulled and pushed, not measured) took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
