import type { Database } from '../db/database.ts';
import type { ServerContext } from '../server-context.ts';

/** How long one database's storage may take to answer the readiness probe. */
export const READINESS_TIMEOUT_MS = 2_000;

export type Readiness = { ready: true } | { ready: false; reason: string };

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Null when the database's storage answers a cheap query in time, else why not. */
async function probe(db: Database, timeoutMs: number): Promise<string | null> {
  try {
    await withTimeout(db.bucket.lastSequence(), timeoutMs);
    return null;
  } catch (err) {
    // A database reconfigured or removed meanwhile closed its bucket: that is not an outage.
    if (db.closed) return null;
    return `storage of database ${db.name} unreachable: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/**
 * `GET /_ready` (metrics and admin APIs): ready when the storage of every online database answers a cheap query
 * (its latest sequence) within `timeoutMs`. Offline databases are not probed. The databases are probed together.
 */
export async function checkReadiness(context: ServerContext, timeoutMs = READINESS_TIMEOUT_MS): Promise<Readiness> {
  const dbs: Database[] = [];
  for (const name of context.databaseNames()) {
    try {
      const db = context.database(name);
      if (db.state === 'Online' && !db.closed) dbs.push(db);
    } catch {
      // removed since the names were listed
    }
  }
  const failures = (await Promise.all(dbs.map((db) => probe(db, timeoutMs)))).filter((r): r is string => r !== null);
  return failures.length === 0 ? { ready: true } : { ready: false, reason: failures.join('; ') };
}
