import { makeDocs } from '../docs.ts';
import { ensureDatabase, postBulkDocs } from '../http-client.ts';
import type { Settings } from '../settings.ts';
import { RawSqlite } from '../targets/raw-sqlite.ts';
import { Progress, batches, freshIdPrefix, type Workload } from './common.ts';

const DB = 'bench';

export function bulkDocsWorkload(settings: Settings): Workload {
  const count = settings.counts.bulk;
  const size = settings.batchSize;
  const docs = () => makeDocs(settings.seed, count, 1_000_000);
  return {
    id: 'bulk',
    name: '_bulk_docs',
    title: `_bulk_docs: ${count.toLocaleString('en-US')} new docs in batches of ${size}, sequential requests`,
    docCount: count,

    async runHttp(target, log) {
      await ensureDatabase(target.client, DB);
      const prefix = await freshIdPrefix(target.client, DB, 'bulk');
      const groups = batches(
        docs().map((doc, i) => ({ _id: `${prefix}-${i}`, ...doc })),
        size,
      );
      const progress = new Progress(log, '_bulk_docs', count);
      let done = 0;
      for (const group of groups) {
        await postBulkDocs(target.client, DB, group);
        done += group.length;
        progress.update(done);
      }
      return progress.finish(done);
    },

    runSqlite(tmpRoot, log) {
      const groups = batches(
        docs().map((doc, i) => [`bulk-${i}`, doc] as const),
        size,
      );
      const db = RawSqlite.create(tmpRoot, 'bulk-docs');
      try {
        const progress = new Progress(log, `INSERT (${size} rows per transaction)`, count);
        let done = 0;
        for (const group of groups) {
          db.insertBatch(group);
          done += group.length;
          progress.update(done);
        }
        return progress.finish(db.count());
      } finally {
        db.close();
      }
    },
  };
}
