import { makeDocs } from '../docs.ts';
import { describeFailure, ensureDatabase } from '../http-client.ts';
import type { Settings } from '../settings.ts';
import { RawSqlite } from '../targets/raw-sqlite.ts';
import { Progress, freshIdPrefix, type Workload } from './common.ts';

const DB = 'bench';

export function singlePutWorkload(settings: Settings): Workload {
  const count = settings.counts.put;
  const docs = () => makeDocs(settings.seed, count, 0);
  return {
    id: 'put',
    name: 'single PUT',
    title: `Single-document PUT: ${count.toLocaleString('en-US')} docs, sequential, one keep-alive client`,
    docCount: count,

    async runHttp(target, log) {
      const bodies = docs();
      await ensureDatabase(target.client, DB);
      const prefix = await freshIdPrefix(target.client, DB, 'doc');
      const progress = new Progress(log, 'PUT', count);
      for (let i = 0; i < count; i++) {
        const path = `/${DB}/${prefix}-${i}`;
        const res = await target.client.request('PUT', path, JSON.stringify(bodies[i]));
        if (res.status !== 201 && res.status !== 202) throw describeFailure('PUT', path, res);
        progress.update(i + 1);
      }
      return progress.finish(count);
    },

    runSqlite(tmpRoot, log) {
      const bodies = docs();
      const db = RawSqlite.create(tmpRoot, 'single-put');
      try {
        const progress = new Progress(log, 'INSERT (1 row per transaction)', count);
        for (let i = 0; i < count; i++) {
          db.insertOne(`doc-${i}`, bodies[i]!);
          progress.update(i + 1);
        }
        return progress.finish(db.count());
      } finally {
        db.close();
      }
    },
  };
}
