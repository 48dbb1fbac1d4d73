import { makeDocs } from '../docs.ts';
import { ensureDatabase } from '../http-client.ts';
import { memoryDatabase, replicate } from '../pouchdb-client.ts';
import type { Settings } from '../settings.ts';
import { Progress, batches, freshIdPrefix, type Workload } from './common.ts';

const DB = 'push';

export function pushReplicationWorkload(settings: Settings): Workload {
  const count = settings.counts.push;
  return {
    id: 'push',
    name: 'push',
    title: `Push replication: one-shot PouchDB.replicate(memory db, server/${DB}) of ${count.toLocaleString('en-US')} docs`,
    docCount: count,

    async runHttp(target, log) {
      const existing = await ensureDatabase(target.client, DB);
      const prefix = await freshIdPrefix(target.client, DB, 'push');
      const local = memoryDatabase('bench-push');
      try {
        const docs = makeDocs(settings.seed, count, 3_000_000).map((doc, i) => ({ _id: `${prefix}-${i}`, ...doc }));
        for (const group of batches(docs, 1000)) await local.bulkDocs(group);

        const progress = new Progress(log, 'push replication', count);
        const replication = replicate(local, `${target.client.baseUrl}/${DB}`);
        replication.on('change', (info) => progress.update(info.docs_written));
        const result = await replication;
        if (!result.ok || result.doc_write_failures > 0) {
          throw new Error(`replication failed: ${JSON.stringify(result).slice(0, 300)}`);
        }
        const measured = progress.finish(result.docs_written);
        const after = await ensureDatabase(target.client, DB);
        if (after !== existing + count) {
          throw new Error(`/${DB} has ${after} docs after push, expected ${existing + count}`);
        }
        return measured;
      } finally {
        await local.destroy();
      }
    },
  };
}
