import { DATABASE_STATS, GLOBAL_STATS, REPLICATION_STATS, type StatDefinition } from './definitions.ts';
import type { ServerSnapshot } from './snapshot.ts';

type Sections = Record<string, Record<string, number>>;

function sections<S>(defs: readonly StatDefinition<S>[], snapshot: S): Sections {
  const out: Sections = {};
  for (const def of defs) {
    const value = def.value(snapshot);
    if (value !== undefined) (out[def.subsystem] ??= {})[def.key] = value;
  }
  return out;
}

export interface Expvar {
  syncgateway: {
    global: Sections;
    per_db: Record<string, Sections>;
    /** Server-to-server replications run by this node, by id (Sync Gateway's per_replication). */
    per_replication: Record<string, Record<string, number>>;
  };
}

/**
 * `GET /_expvar` on the admin API, shaped like Sync Gateway's:
 * `{"syncgateway": {"global": {"resource_utilization": {...}}, "per_db": {"<db>": {"database": {...}, ...}}}}`.
 */
export function expvarJson(snapshot: ServerSnapshot): Expvar {
  const perDb: Record<string, Sections> = {};
  const perReplication: Record<string, Record<string, number>> = {};
  for (const db of snapshot.databases) {
    perDb[db.name] = sections(DATABASE_STATS, db);
    for (const replication of db.replications) {
      const values: Record<string, number> = {};
      for (const def of REPLICATION_STATS) {
        const value = def.value(replication);
        if (value !== undefined) values[def.key] = value;
      }
      perReplication[replication.id] = values;
    }
  }
  return { syncgateway: { global: sections(GLOBAL_STATS, snapshot), per_db: perDb, per_replication: perReplication } };
}
