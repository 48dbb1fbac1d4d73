import { isAbsolute, resolve } from 'node:path';
import { badRequest } from '../base/errors.ts';
import type { Bucket } from './bucket.ts';
import { openPostgresBucket } from './postgres/postgres-bucket.ts';
import { openSqliteBucket, SQLITE_MEMORY } from './sqlite/sqlite-bucket.ts';

export interface OpenBucketOptions {
  /** Directory that relative SQLite paths are resolved against (default: the working directory). */
  baseDir?: string;
  /** PostgreSQL schema holding the bucket (default "public"). */
  schema?: string;
  /** PostgreSQL connection pool size (default 10). */
  poolSize?: number;
}

/**
 * Open the bucket named by a "server" config string:
 *  - "sqlite:./data/db.sqlite" (relative to baseDir, default the working directory), "sqlite:/abs/db.sqlite"
 *  - "sqlite::memory:" (in-memory, for tests)
 *  - "postgres://user:password@host:port/database" (or "postgresql://..."), tables in `opts.schema`
 */
export async function openBucket(url: string, opts: OpenBucketOptions = {}): Promise<Bucket> {
  const colon = url.indexOf(':');
  const scheme = colon > 0 ? url.slice(0, colon).toLowerCase() : '';
  const rest = colon > 0 ? url.slice(colon + 1) : '';
  switch (scheme) {
    case 'sqlite': {
      if (rest === '') throw badRequest(`Missing SQLite file path in server URL "${url}"`);
      if (rest === SQLITE_MEMORY) return openSqliteBucket(SQLITE_MEMORY);
      const path = isAbsolute(rest) ? rest : resolve(opts.baseDir ?? process.cwd(), rest);
      return openSqliteBucket(path);
    }
    case 'postgres':
    case 'postgresql':
      return openPostgresBucket(url, {
        ...(opts.schema !== undefined ? { schema: opts.schema } : {}),
        ...(opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {}),
      });
    default:
      // The URL itself is not echoed: it may carry credentials.
      throw badRequest(
        `Unsupported storage URL scheme "${scheme || '(none)'}": expected "sqlite:<path>", "sqlite::memory:" or "postgres://..."`,
      );
  }
}
