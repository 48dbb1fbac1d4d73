import { isAbsolute, resolve } from 'node:path';
import { badRequest } from '../base/errors.ts';
import type { Bucket } from './bucket.ts';
import { openSqliteBucket, SQLITE_MEMORY } from './sqlite/sqlite-bucket.ts';

/**
 * Open the bucket named by a "server" config string:
 *  - "sqlite:./data/db.sqlite" (relative to baseDir, default the working directory), "sqlite:/abs/db.sqlite"
 *  - "sqlite::memory:" (in-memory, for tests)
 */
export async function openBucket(url: string, opts: { baseDir?: string } = {}): Promise<Bucket> {
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
      throw badRequest(`PostgreSQL storage ("${scheme}:") is not supported yet; use "sqlite:<path>"`);
    default:
      // The URL itself is not echoed: it may carry credentials.
      throw badRequest(
        `Unsupported storage URL scheme "${scheme || '(none)'}": expected "sqlite:<path>" or "sqlite::memory:"`,
      );
  }
}
