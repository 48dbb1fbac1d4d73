import type { BlipConnection } from '@syncline/protocol';
import { ud, type Logger } from '../../base/logger.ts';
import { ancestry } from '../../document/index.ts';
import { canReadRevision } from '../../db/access/doc-access.ts';
import type { UserAccess } from '../../db/access/user-access.ts';
import type { DbContext } from '../../db/context.ts';
import { revisionContent, toCurrent, type CurrentDoc } from '../../db/crud/current.ts';
import { readManyImported } from '../../db/import/importer.ts';
import type { AttachmentMap } from '../../db/doc-meta.ts';
import type { AllowedAttachments } from './attachments.ts';
import { sequenceProperty, trimHistory } from './messages.ts';

/** What sending revisions needs from the session. */
export interface RevSendContext {
  db: DbContext;
  connection: BlipConnection;
  log: Logger;
  attachments: AllowedAttachments;
}

export interface RevToSend {
  seq: number | string;
  id: string;
  rev: string;
}

/** Bodies shorter than this go out uncompressed: deflate would save a few bytes for more CPU (LiteCore's rule too). */
const MIN_BODY_TO_COMPRESS = 500;

const worthCompressing = (body: string): boolean => body.length >= MIN_BODY_TO_COMPRESS;

/** `_attachments` as sent in `rev` bodies: metadata stubs (the client fetches bytes with getAttachment). */
function attachmentStubs(atts: AttachmentMap): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, meta] of Object.entries(atts)) {
    const stub: Record<string, unknown> = { content_type: meta.content_type, digest: meta.digest, length: meta.length, revpos: meta.revpos, stub: true };
    if (meta.encoding !== undefined) stub.encoding = meta.encoding;
    if (meta.encoded_length !== undefined) stub.encoded_length = meta.encoded_length;
    out[name] = stub;
  }
  return out;
}

/** `norev`: the announced revision cannot be sent (Sync Gateway's sendNoRev: no-reply, `error` = HTTP status). */
export function sendNoRev(ctx: RevSendContext, change: RevToSend, status: number, reason: string): void {
  ctx.connection.sendNoReply({
    profile: 'norev',
    properties: { id: change.id, rev: change.rev, sequence: sequenceProperty(change.seq), error: String(status), reason },
  });
}

/** The documents of `ids` as they are now, imported first where needed; a document that cannot be imported is absent. */
export async function loadDocuments(db: DbContext, ids: readonly string[]): Promise<Map<string, CurrentDoc>> {
  const stored = await readManyImported(db, ids);
  const docs = new Map<string, CurrentDoc>();
  for (const [id, doc] of stored) docs.set(id, toCurrent(id, doc));
  return docs;
}

/**
 * Sends one revision the client asked for, as Sync Gateway's sendRevision: properties `id`, `rev`,
 * `sequence`, `history` (ancestors newest first, cut at the first one the client knows or at `maxHistory`),
 * `deleted`; body = the revision's properties plus `_attachments` stubs. A revision the user can no longer
 * read goes out redacted: `{"_removed":true}` (or `{}` for a tombstone). One whose body is gone gets `norev`.
 * Revisions with attachments await the reply, so that `getAttachment` is allowed meanwhile; others are no-reply.
 * `current` is the document as loaded by `loadDocuments` (undefined when missing).
 */
export function sendRevision(
  ctx: RevSendContext,
  change: RevToSend,
  known: Set<string>,
  maxHistory: number,
  access: UserAccess | null,
  current: CurrentDoc | undefined,
): void {
  if (!ctx.connection.isOpen) return;
  const meta = current?.meta;
  if (!current || !meta || meta.tree[change.rev] === undefined) return sendNoRev(ctx, change, 404, 'missing');
  const node = meta.tree[change.rev]!;
  const history = trimHistory(ancestry(meta.tree, change.rev).slice(1), known, maxHistory);
  const properties: Record<string, string> = { id: change.id, rev: change.rev, sequence: sequenceProperty(change.seq) };
  if (history.length > 0) properties.history = history.join(',');
  if (node.deleted) properties.deleted = '1';

  if (!canReadRevision(access, meta, change.rev)) {
    const body = node.deleted ? '{}' : '{"_removed":true}';
    ctx.connection.sendNoReply({ profile: 'rev', properties, body });
    return;
  }
  // The current revision without attachments goes out as stored: gateway and imported bodies hold no `_` properties.
  const storedBody = current.stored?.body;
  if (change.rev === meta.rev && !meta.deleted && storedBody != null && Object.keys(meta.attachments).length === 0) {
    ctx.db.stats.docReads++;
    ctx.connection.sendNoReply({ profile: 'rev', properties, body: storedBody, compressed: worthCompressing(storedBody) });
    return;
  }
  const content = revisionContent(current, change.rev);
  if (!content) return sendNoRev(ctx, change, 404, 'missing');
  ctx.db.stats.docReads++;
  const body: Record<string, unknown> = { ...content.body };
  delete body._id;
  delete body._rev;
  delete body._deleted;
  const digests = Object.values(content.attachments).map((a) => a.digest);
  if (digests.length > 0) body._attachments = attachmentStubs(content.attachments);
  const json = JSON.stringify(body);
  const message = { profile: 'rev', properties, body: json, compressed: worthCompressing(json) };
  if (digests.length === 0) {
    ctx.connection.sendNoReply(message);
    return;
  }
  ctx.attachments.add(digests);
  ctx.connection
    .sendRequest(message)
    .then((reply) => {
      const error = reply.error;
      if (error) ctx.log.info({ doc: ud(change.id), rev: change.rev, code: error.code, domain: error.domain }, 'client refused a pulled revision');
    })
    .catch(() => undefined)
    .finally(() => ctx.attachments.remove(digests));
}
