import { revGeneration, withLegacyAttachments, type IncomingRequest } from '@syncline/protocol';
import { blobRefs, proveAttachment, withAttachmentStubs } from '../blobs.ts';
import type { JsonObject, LocalChange } from '../store/local-store.ts';
import { MAX_HISTORY, CHANGES_BATCH_SIZE } from './puller.ts';
import { ReplicationError } from './errors.ts';
import { errorMessage, errorStatus, type WorkerContext } from './worker-context.ts';

interface Proposal {
  change: LocalChange;
  parent: string | undefined;
  history: string[];
  body: JsonObject;
}

/** A proposeChanges status: a number, or `{status, rev}` when the peer includes its current revision. */
function statusOf(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { status?: unknown }).status === 'number') return (value as { status: number }).status;
  return 0;
}

/** A `rev` body: attachments as stubs, plus LiteCore's `blob_/<path>` shadows of inline blobs. */
function revBody(body: JsonObject, revId: string): JsonObject {
  return withLegacyAttachments(withAttachmentStubs(body), revGeneration(revId));
}

/**
 * The active push, after LiteCore's Pusher with conflicts disallowed: local changes after the checkpoint
 * go out in batches as `proposeChanges` (`[docID, revID, parentRevID, bodySize]`); the reply holds a status
 * per entry (0 send, 304 already there, 409 conflict); accepted revisions are sent as `rev` with `history`
 * and `noconflicts`. A revision the peer refuses (e.g. 403 from its sync function) is reported for that
 * document and the push goes on. The peer may fetch blobs of revisions being sent (`getAttachment`) or
 * ask for a proof (`proveAttachment`).
 */
export class Pusher {
  readonly #ctx: WorkerContext;
  readonly #allowedBlobs = new Map<string, number>();
  #since: number;
  #caughtUp = false;
  #running = false;
  #wake: (() => void) | undefined;
  #stopped = false;
  #unsubscribe: (() => void) | undefined;

  constructor(ctx: WorkerContext, since: number) {
    this.#ctx = ctx;
    this.#since = since;
  }

  get busy(): boolean {
    return this.#running && !this.#caughtUp;
  }

  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  /** Runs until caught up (one-shot) or until `stop()` (continuous). Rejects on a connection failure. */
  async run(): Promise<void> {
    this.#running = true;
    if (this.#ctx.continuous) {
      this.#unsubscribe = this.#ctx.store.onChange(() => {
        this.#caughtUp = false;
        this.#wake?.();
      });
    }
    try {
      while (!this.#stopped) {
        const changes = await this.#ctx.store.changesSince(this.#since, this.#ctx.batchSize ?? CHANGES_BATCH_SIZE);
        if (changes.length === 0) {
          this.#caughtUp = true;
          this.#ctx.activityChanged();
          if (!this.#ctx.continuous) return;
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = undefined;
          continue;
        }
        this.#caughtUp = false;
        this.#ctx.activityChanged();
        await this.#pushBatch(changes);
        this.#since = changes[changes.length - 1]!.sequence;
        if (this.#ctx.connection.isOpen) this.#ctx.checkpointer.setLocal(this.#since);
        this.#ctx.activityChanged();
      }
    } finally {
      this.#unsubscribe?.();
      this.#running = false;
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  async #pushBatch(changes: LocalChange[]): Promise<void> {
    const proposals: Proposal[] = [];
    for (const change of changes) {
      if (this.#ctx.docIds && this.#ctx.docIds.length > 0 && !this.#ctx.docIds.includes(change.docId)) continue;
      const doc = await this.#ctx.store.getDocument(change.docId);
      if (!doc || doc.revId !== change.revId || doc.remoteRevId === doc.revId) continue;
      const parent = doc.remoteRevId !== undefined && doc.history.includes(doc.remoteRevId) ? doc.remoteRevId : undefined;
      if (parent === undefined && doc.deleted && doc.remoteRevId === undefined) continue;
      proposals.push({ change, parent, history: doc.history, body: doc.body });
    }
    if (proposals.length === 0) return;
    const body = JSON.stringify(proposals.map((p) => [p.change.docId, p.change.revId, p.parent ?? '', Buffer.byteLength(JSON.stringify(p.body))]));
    const reply = await this.#ctx.connection.sendRequest({ profile: 'proposeChanges', body, compressed: true });
    if (reply.error) {
      // A refusal of the whole push (401/403/404, e.g. a server that allows clients to pull only) is permanent.
      const code = reply.error.code;
      throw new ReplicationError(code, `proposeChanges failed: ${code} ${reply.error.message}`, { permanent: code >= 400 && code < 500 && code !== 408 && code !== 409 && code !== 429 });
    }
    const parsed: unknown = reply.body.length === 0 ? [] : reply.bodyJSON();
    const statuses = Array.isArray(parsed) ? parsed : [];
    await Promise.all(
      proposals.map(async (proposal, i) => {
        const status = statusOf(statuses[i]);
        const { docId, revId, deleted } = proposal.change;
        if (status === 0) return this.#sendRev(proposal);
        if (status === 304) {
          await this.#ctx.store.setRemoteRevision(docId, revId);
          this.#ctx.documentEnded({ direction: 'push', docId, revId, deleted });
          return;
        }
        const message = status === 409 ? 'conflict: the remote has a different current revision' : `the peer refused the change (${status})`;
        this.#ctx.documentEnded({ direction: 'push', docId, revId, deleted, error: { status, message } });
      }),
    );
  }

  async #sendRev(proposal: Proposal): Promise<void> {
    const { docId, revId, deleted, sequence } = proposal.change;
    const properties: Record<string, string> = { id: docId, rev: revId, sequence: String(sequence), noconflicts: 'true' };
    const history = proposal.history.slice(0, MAX_HISTORY);
    if (history.length > 0) properties.history = history.join(',');
    if (deleted) properties.deleted = '1';
    const digests = blobRefs(proposal.body).map((b) => b.digest);
    for (const d of digests) this.#allowedBlobs.set(d, (this.#allowedBlobs.get(d) ?? 0) + 1);
    try {
      const reply = await this.#ctx.connection.sendRequest({ profile: 'rev', properties, body: JSON.stringify(revBody(proposal.body, revId)), compressed: true });
      const error = reply.error;
      if (error) {
        this.#ctx.documentEnded({ direction: 'push', docId, revId, deleted, error: { status: error.code, message: error.message } });
        return;
      }
      await this.#ctx.store.setRemoteRevision(docId, revId);
      this.#ctx.documentEnded({ direction: 'push', docId, revId, deleted });
    } finally {
      for (const d of digests) {
        const n = (this.#allowedBlobs.get(d) ?? 1) - 1;
        if (n <= 0) this.#allowedBlobs.delete(d);
        else this.#allowedBlobs.set(d, n);
      }
    }
  }

  /** `getAttachment` / `proveAttachment` from the peer, for blobs of revisions being pushed. */
  async handleBlobRequest(rq: IncomingRequest): Promise<void> {
    const digest = rq.property('digest') ?? '';
    try {
      const data = this.#allowedBlobs.has(digest) ? await this.#ctx.store.getBlob(digest) : undefined;
      if (!data) {
        rq.respondWithError({ domain: 'HTTP', code: 404, message: 'no such blob' });
        return;
      }
      if (rq.profile === 'proveAttachment') rq.respond({ body: proveAttachment(data, rq.body) });
      else rq.respond({ body: data, compressed: true });
    } catch (err) {
      if (!rq.responded) rq.respondWithError({ code: errorStatus(err), message: errorMessage(err) });
    }
  }
}
