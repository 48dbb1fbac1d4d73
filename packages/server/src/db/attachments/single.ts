import { notFound } from '../../base/errors.ts';
import type { DbContext } from '../context.ts';
import { loadCurrent, requireRevision } from '../crud/read.ts';
import { writeDocument, type WriteResult } from '../crud/write.ts';
import type { AttachmentMeta } from '../doc-meta.ts';
import { requireReadable } from '../access/doc-access.ts';
import type { UserAccess } from '../access/user-access.ts';

export interface AttachmentRead {
  meta: AttachmentMeta;
  data: Buffer;
}

/** GET /{db}/{doc}/{attachment}: the bytes of one attachment of a revision (the winner by default). */
export async function getAttachment(ctx: DbContext, docId: string, name: string, rev?: string, user: UserAccess | null = null): Promise<AttachmentRead> {
  const current = await loadCurrent(ctx, docId);
  const found = requireRevision(current, rev);
  requireReadable(user, current.meta!, found.rev);
  const { content } = found;
  const meta = content.attachments[name];
  if (!meta) throw notFound('missing attachment');
  const data = await ctx.bucket.getBlob(meta.digest);
  if (!data) throw notFound('missing attachment body');
  return { meta, data: Buffer.from(data) };
}

function stubsOf(atts: Record<string, AttachmentMeta>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, meta] of Object.entries(atts)) out[name] = { ...meta, stub: true };
  return out;
}

/**
 * PUT or DELETE of one attachment: a new revision of the document with that attachment replaced or removed.
 * With no `rev` the document must not exist yet (PUT creates it with just the attachment). `user` is the writer
 * the sync function sees (null: admin).
 */
export async function changeAttachment(
  ctx: DbContext,
  docId: string,
  name: string,
  rev: string | undefined,
  change: { data: Buffer; contentType: string } | null,
  user: UserAccess | null = null,
): Promise<WriteResult> {
  const current = await loadCurrent(ctx, docId);
  let body: Record<string, unknown> = {};
  let attachments: Record<string, unknown> = {};
  if (rev !== undefined && current.meta) {
    const { content } = requireRevision(current, rev);
    body = content.body;
    attachments = stubsOf(content.attachments);
  }
  if (change) {
    attachments[name] = { content_type: change.contentType, follows: true };
  } else {
    if (!(name in attachments)) throw notFound('missing attachment');
    delete attachments[name];
  }
  return writeDocument(
    ctx,
    { id: docId, body, deleted: false, rev, revisions: undefined, attachments },
    { newEdits: true, user, ...(change ? { follows: new Map([[name, change.data]]) } : {}) },
  );
}
