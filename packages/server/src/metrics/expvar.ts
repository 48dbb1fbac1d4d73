import { DATABASE_STATS, GLOBAL_STATS, type StatDefinition } from './definitions.ts';
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
  };
}

/**
 * `GET /_expvar` on the admin API, shaped like Sync Gateway's:
 * `{"syncgateway": {"global": {"resource_utilization": {...}}, "per_db": {"<db>": {"database": {...}, ...}}}}`.
 */
export function expvarJson(snapshot: ServerSnapshot): Expvar {
  const perDb: Record<string, Sections> = {};
  for (const db of snapshot.databases) perDb[db.name] = sections(DATABASE_STATS, db);
  return { syncgateway: { global: sections(GLOBAL_STATS, snapshot), per_db: perDb } };
}
