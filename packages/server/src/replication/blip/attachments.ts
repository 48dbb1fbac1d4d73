import type { IncomingRequest } from '@syncline/protocol';
import { badRequest, forbidden, notFound } from '../../base/errors.ts';
import type { DbContext } from '../../db/context.ts';

/**
 * Attachments the client may fetch with `getAttachment`: only those of revisions being sent to it, while
 * the `rev` message awaits its reply (Sync Gateway's allowedAttachments). Counted, since two revisions in
 * flight may share a digest.
 */
export class AllowedAttachments {
  readonly #counts = new Map<string, number>();

  add(digests: readonly string[]): void {
    for (const d of digests) this.#counts.set(d, (this.#counts.get(d) ?? 0) + 1);
  }

  remove(digests: readonly string[]): void {
    for (const d of digests) {
      const n = (this.#counts.get(d) ?? 0) - 1;
      if (n > 0) this.#counts.set(d, n);
      else this.#counts.delete(d);
    }
  }

  has(digest: string): boolean {
    return this.#counts.has(digest);
  }
}

/** `getAttachment`: property `digest`; the reply body is the attachment's bytes. */
export async function handleGetAttachment(db: DbContext, allowed: AllowedAttachments, rq: IncomingRequest): Promise<void> {
  const digest = rq.properties.digest;
  if (digest === undefined || digest === '') throw badRequest("Missing 'digest'");
  if (!allowed.has(digest)) throw forbidden("Attachment's doc not being synced");
  const data = await db.bucket.getBlob(digest);
  if (!data) throw notFound('missing');
  rq.respond({ body: data, compressed: rq.properties.compress === 'true' });
}
