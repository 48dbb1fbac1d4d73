import { readManyImported } from './import/importer.ts';
import { isSynclineError } from '../base/errors.ts';
import type { DbContext } from './context.ts';
import { requireReadable } from './access/doc-access.ts';
import type { UserAccess } from './access/user-access.ts';
import { toCurrent } from './crud/current.ts';
import { formatRevision, requireRevision, type FormattedRevision, type ReadOptions } from './crud/read.ts';

export interface BulkGetRequest {
  id: string;
  rev?: string;
  attsSince?: readonly string[];
}

export type BulkGetDoc = { ok: FormattedRevision } | { error: { id: string; rev: string; error: string; reason: string; status: number } };

export interface BulkGetResult {
  id: string;
  docs: BulkGetDoc[];
}

/** `_bulk_get`: many revisions in one round trip, each one found or an error entry (never a failed request). */
export async function bulkGet(ctx: DbContext, requests: readonly BulkGetRequest[], opts: ReadOptions, user: UserAccess | null = null): Promise<BulkGetResult[]> {
  const stored = await readManyImported(ctx, [...new Set(requests.map((r) => r.id))]);
  const results: BulkGetResult[] = [];
  for (const req of requests) {
    const current = toCurrent(req.id, stored.get(req.id));
    try {
      const { rev, content } = requireRevision(current, req.rev);
      requireReadable(user, current.meta!, rev);
      const formatted = await formatRevision(ctx, current, rev, content, { ...opts, ...(req.attsSince ? { attsSince: req.attsSince } : {}) });
      results.push({ id: req.id, docs: [{ ok: formatted }] });
    } catch (err) {
      if (!isSynclineError(err)) throw err;
      results.push({
        id: req.id,
        docs: [{ error: { id: req.id, rev: req.rev ?? 'undefined', error: err.error, reason: err.reason, status: err.status } }],
      });
    }
  }
  return results;
}
