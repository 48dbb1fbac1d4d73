import { readImported } from '../import/importer.ts';
import { notFound } from '../../base/errors.ts';
import { ancestry, conflicts, deletedConflicts, generationOf, leaves, revisionsOf, revsInfo } from '../../document/index.ts';
import type { DbContext } from '../context.ts';
import type { AttachmentMap } from '../doc-meta.ts';
import { revisionContent, toCurrent, type CurrentDoc, type RevisionContent } from './current.ts';

export interface ReadOptions {
  revs?: boolean;
  revsInfo?: boolean;
  conflicts?: boolean;
  deletedConflicts?: boolean;
  /** Include attachment bodies (inline base64, or as separate parts with `follows`). */
  attachments?: boolean;
  /** Only bodies of attachments changed since these revisions are included. */
  attsSince?: readonly string[];
  /** Put attachment bodies beside the JSON (for multipart responses) instead of inline base64. */
  follows?: boolean;
}

export interface AttachmentBody {
  name: string;
  contentType: string;
  data: Buffer;
}

export interface FormattedRevision {
  doc: Record<string, unknown>;
  /** Attachment bodies to send as parts, when `follows` was asked for. */
  parts: AttachmentBody[];
}

export async function loadCurrent(ctx: DbContext, id: string): Promise<CurrentDoc> {
  return toCurrent(id, await readImported(ctx, id));
}

/** The requested revision's content; 404 "missing" when unknown or no longer kept, "deleted" for a deleted winner. */
export function requireRevision(current: CurrentDoc, rev: string | undefined): { rev: string; content: RevisionContent } {
  const meta = current.meta;
  if (!meta) throw notFound('missing');
  if (rev === undefined) {
    if (meta.deleted) throw notFound('deleted');
    rev = meta.rev;
  }
  const content = revisionContent(current, rev);
  if (!content) throw notFound('missing');
  return { rev, content };
}

/** Generation of the newest of `since` revisions that is an ancestor of `rev` (attachments at or below it are known). */
function knownGeneration(current: CurrentDoc, rev: string, since: readonly string[] | undefined): number {
  if (!since || since.length === 0 || !current.meta) return 0;
  const chain = new Set(ancestry(current.meta.tree, rev));
  let known = 0;
  for (const s of since) if (chain.has(s)) known = Math.max(known, generationOf(s));
  return known;
}

async function formatAttachments(ctx: DbContext, atts: AttachmentMap, opts: ReadOptions, known: number, parts: AttachmentBody[]) {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, meta] of Object.entries(atts)) {
    const entry: Record<string, unknown> = { content_type: meta.content_type, digest: meta.digest, length: meta.length, revpos: meta.revpos };
    const withBody = opts.attachments === true && meta.revpos > known;
    if (!withBody) {
      out[name] = { ...entry, stub: true };
      continue;
    }
    const data = await ctx.bucket.getBlob(meta.digest);
    if (!data) {
      ctx.log.warn({ digest: meta.digest }, 'attachment body missing from blob store');
      out[name] = { ...entry, stub: true };
      continue;
    }
    if (opts.follows) {
      parts.push({ name, contentType: meta.content_type, data: Buffer.from(data) });
      out[name] = { ...entry, follows: true };
    } else {
      out[name] = { ...entry, data: Buffer.from(data).toString('base64') };
    }
  }
  return out;
}

/** The CouchDB JSON of one revision, with the special members the options ask for. */
export async function formatRevision(ctx: DbContext, current: CurrentDoc, rev: string, content: RevisionContent, opts: ReadOptions = {}): Promise<FormattedRevision> {
  const meta = current.meta!;
  ctx.stats.docReads++;
  const doc: Record<string, unknown> = { _id: current.id, _rev: rev, ...content.body };
  if (content.deleted) doc._deleted = true;
  const parts: AttachmentBody[] = [];
  if (Object.keys(content.attachments).length > 0) {
    doc._attachments = await formatAttachments(ctx, content.attachments, opts, knownGeneration(current, rev, opts.attsSince), parts);
  }
  if (opts.revs) doc._revisions = revisionsOf(meta.tree, rev);
  if (opts.revsInfo) doc._revs_info = revsInfo(meta.tree, rev, (r) => revisionContent(current, r) !== null);
  if (opts.conflicts && rev === meta.rev) {
    const list = conflicts(meta.tree);
    if (list.length > 0) doc._conflicts = list;
  }
  if (opts.deletedConflicts && rev === meta.rev) {
    const list = deletedConflicts(meta.tree);
    if (list.length > 0) doc._deleted_conflicts = list;
  }
  return { doc, parts };
}

export type OpenRevResult = { ok: FormattedRevision } | { missing: string };

/** `open_revs`: each requested revision (or every leaf for "all"), or a `missing` entry. */
export async function openRevs(ctx: DbContext, current: CurrentDoc, revs: 'all' | readonly string[], opts: ReadOptions): Promise<OpenRevResult[]> {
  const meta = current.meta;
  if (!meta) {
    if (revs === 'all') throw notFound('missing');
    return revs.map((rev) => ({ missing: rev }));
  }
  const list = revs === 'all' ? leaves(meta.tree) : revs;
  const results: OpenRevResult[] = [];
  for (const rev of list) {
    const content = revisionContent(current, rev);
    results.push(content ? { ok: await formatRevision(ctx, current, rev, content, opts) } : { missing: rev });
  }
  return results;
}
