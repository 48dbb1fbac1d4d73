import { makeDocs } from '../docs.ts';
import { ensureDatabase, postBulkDocs } from '../http-client.ts';
import { memoryDatabase, replicate } from '../pouchdb-client.ts';
import type { Settings } from '../settings.ts';
import { Progress, batches, type Workload } from './common.ts';

const DB = 'pull';

export function pullReplicationWorkload(settings: Settings): Workload {
  const count = settings.counts.pull;
  return {
    id: 'pull',
    name: 'pull',
    title: `Pull replication: one-shot PouchDB.replicate(server/${DB}, memory db) of ${count.toLocaleString('en-US')} docs`,
    docCount: count,

    async runHttp(target, log) {
      const existing = await ensureDatabase(target.client, DB);
      if (existing === 0) {
        const docs = makeDocs(settings.seed, count, 2_000_000).map((doc, i) => ({ _id: `pull-${i}`, ...doc }));
        const loading = new Progress(log, `loading /${DB} (not measured)`, count);
        let done = 0;
        for (const group of batches(docs, settings.batchSize)) {
          await postBulkDocs(target.client, DB, group);
          done += group.length;
          loading.update(done);
        }
        loading.finish(done);
      } else if (existing === count) {
        log(`/${DB} already holds ${count.toLocaleString('en-US')} docs; reusing them`);
      } else {
        throw new Error(`/${DB} holds ${existing} docs; the pull workload needs it empty or with exactly ${count}`);
      }

      const local = memoryDatabase('bench-pull');
      try {
        const progress = new Progress(log, 'pull replication', count);
        const replication = replicate(`${target.client.baseUrl}/${DB}`, local);
        replication.on('change', (info) => progress.update(info.docs_written));
        const result = await replication;
        if (!result.ok || result.doc_write_failures > 0) {
          throw new Error(`replication failed: ${JSON.stringify(result).slice(0, 300)}`);
        }
        const measured = progress.finish(result.docs_written);
        const { doc_count } = await local.info();
        if (doc_count !== count) throw new Error(`local database has ${doc_count} docs after pull, expected ${count}`);
        return measured;
      } finally {
        await local.destroy();
      }
    },
  };
}
