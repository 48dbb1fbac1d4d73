import type { ScanQuery } from '../storage/bucket.ts';
import type { DbContext } from './context.ts';
import { revisionContent, toCurrent } from './crud/current.ts';
import { formatRevision } from './crud/read.ts';

/** The id range and paging of a metadata scan, or an explicit list of keys. */
export interface AllDocsOptions extends Omit<ScanQuery, 'includeDeleted'> {
  keys?: readonly string[];
  includeDocs?: boolean;
  conflicts?: boolean;
}

export type AllDocsRow =
  | { id: string; key: string; value: { rev: string; deleted?: true }; doc?: Record<string, unknown> | null }
  | { key: string; error: 'not_found' };

export interface AllDocsResult {
  total_rows: number;
  offset: number;
  rows: AllDocsRow[];
}

async function docFor(ctx: DbContext, id: string, metaText: string | null, body: string | null | undefined, conflicts: boolean) {
  const current = toCurrent(id, { id, body: body ?? null, bodyCas: null, meta: metaText, metaCas: null });
  const meta = current.meta!;
  const content = revisionContent(current, meta.rev);
  return content ? (await formatRevision(ctx, current, meta.rev, content, { conflicts })).doc : null;
}

export async function allDocs(ctx: DbContext, opts: AllDocsOptions): Promise<AllDocsResult> {
  const total = await ctx.collection.countLive();
  const rows: AllDocsRow[] = [];
  if (opts.keys) {
    const stored = await ctx.collection.getMany(opts.keys);
    for (const key of opts.keys.slice(opts.skip ?? 0, opts.limit !== undefined ? (opts.skip ?? 0) + opts.limit : undefined)) {
      const doc = stored.get(key);
      const meta = doc?.meta ? (JSON.parse(doc.meta) as { rev: string; deleted: boolean }) : null;
      if (!doc || !meta) {
        rows.push({ key, error: 'not_found' });
      } else if (meta.deleted) {
        rows.push({ id: key, key, value: { rev: meta.rev, deleted: true }, ...(opts.includeDocs ? { doc: null } : {}) });
      } else {
        const row: AllDocsRow = { id: key, key, value: { rev: meta.rev } };
        if (opts.includeDocs) row.doc = await docFor(ctx, key, doc.meta, doc.body, opts.conflicts === true);
        rows.push(row);
      }
    }
    return { total_rows: total, offset: opts.skip ?? 0, rows };
  }
  const { keys: _keys, includeDocs: _includeDocs, conflicts: _conflicts, ...scan } = opts;
  const metas = await ctx.collection.scanMeta(scan);
  const bodies = opts.includeDocs ? await ctx.collection.getMany(metas.map((m) => m.id)) : null;
  for (const row of metas) {
    const meta = JSON.parse(row.meta) as { rev: string };
    const out: AllDocsRow = { id: row.id, key: row.id, value: { rev: meta.rev } };
    if (bodies) out.doc = await docFor(ctx, row.id, row.meta, bodies.get(row.id)?.body, opts.conflicts === true);
    rows.push(out);
  }
  return { total_rows: total, offset: opts.skip ?? 0, rows };
}
