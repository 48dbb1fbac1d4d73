import type { MetaRow, ScanQuery } from '../storage/bucket.ts';
import { canReadDocument } from './access/doc-access.ts';
import type { UserAccess } from './access/user-access.ts';
import { parseMeta } from './doc-meta.ts';
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

/**
 * `_all_docs`. For a user (non-null `user`), only documents in its channels are listed, `total_rows` counts
 * the rows returned (as Sync Gateway does), and requested keys it cannot read answer `not_found`.
 */
export async function allDocs(ctx: DbContext, opts: AllDocsOptions, user: UserAccess | null = null): Promise<AllDocsResult> {
  if (user !== null && !opts.keys) return userAllDocs(ctx, opts, user);
  const total = await ctx.collection.countLive();
  const rows: AllDocsRow[] = [];
  if (opts.keys) {
    const stored = await ctx.collection.getMany(opts.keys);
    for (const key of opts.keys.slice(opts.skip ?? 0, opts.limit !== undefined ? (opts.skip ?? 0) + opts.limit : undefined)) {
      const doc = stored.get(key);
      const meta = doc?.meta ? parseMeta(doc.meta) : null;
      if (!doc || !meta || !canReadDocument(user, meta)) {
        rows.push({ key, error: 'not_found' });
      } else if (meta.deleted) {
        rows.push({ id: key, key, value: { rev: meta.rev, deleted: true }, ...(opts.includeDocs ? { doc: null } : {}) });
      } else {
        const row: AllDocsRow = { id: key, key, value: { rev: meta.rev } };
        if (opts.includeDocs) row.doc = await docFor(ctx, key, doc.meta, doc.body, opts.conflicts === true);
        rows.push(row);
      }
    }
    return { total_rows: user !== null ? rows.length : total, offset: opts.skip ?? 0, rows };
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

const PAGE = 500;

async function userAllDocs(ctx: DbContext, opts: AllDocsOptions, user: UserAccess): Promise<AllDocsResult> {
  const { keys: _keys, includeDocs: _includeDocs, conflicts: _conflicts, skip = 0, limit = Infinity, ...range } = opts;
  const visible: MetaRow[] = [];
  let startKey = range.startKey;
  let first = true;
  while (visible.length < skip + limit) {
    const page = await ctx.collection.scanMeta({ ...range, ...(startKey !== undefined ? { startKey } : {}), limit: PAGE, skip: first ? 0 : 1 });
    first = false;
    for (const row of page) if (canReadDocument(user, parseMeta(row.meta))) visible.push(row);
    if (page.length < PAGE) break;
    startKey = page[page.length - 1]!.id;
  }
  const chosen = visible.slice(skip, skip + limit);
  const bodies = opts.includeDocs ? await ctx.collection.getMany(chosen.map((m) => m.id)) : null;
  const rows: AllDocsRow[] = [];
  for (const row of chosen) {
    const out: AllDocsRow = { id: row.id, key: row.id, value: { rev: parseMeta(row.meta).rev } };
    if (bodies) out.doc = await docFor(ctx, row.id, row.meta, bodies.get(row.id)?.body, opts.conflicts === true);
    rows.push(out);
  }
  return { total_rows: rows.length, offset: skip, rows };
}
