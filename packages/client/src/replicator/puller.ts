import { stripLegacyAttachments, type IncomingRequest } from '@syncline/protocol';
import { blobDigest, blobRefs } from '../blobs.ts';
import type { JsonObject } from '../store/local-store.ts';
import { insertPulledRevision } from './conflict-resolver.ts';
import { ReplicationError } from './errors.ts';
import { parseSequenceProperty, SequenceTracker } from './sequence-tracker.ts';
import { errorMessage, errorStatus, isTrue, type WorkerContext } from './worker-context.ts';

/** LiteCore's tuning (ReplicatorTuning.hh): changes per `changes` message, history depth asked for. */
export const CHANGES_BATCH_SIZE = 200;
export const MAX_HISTORY = 20;
/** Most ancestors listed per wanted entry in a `changes` reply. */
const MAX_POSSIBLE_ANCESTORS = 10;

/** `changes` entry flags (Sync Gateway 3.x; 2.x sends only 0/1 or a boolean). */
const DIGEST_KEY = Buffer.from('"digest"');

export const ChangeFlags = { deleted: 1, revoked: 2, removed: 4 } as const;

type Answer = 0 | string[];

/** Encodes a `changes` reply as RevFinder does: an array per entry, trailing zeros left out. */
export function encodeChangesAnswer(answers: readonly Answer[]): string {
  let end = answers.length;
  while (end > 0 && answers[end - 1] === 0) end--;
  return JSON.stringify(answers.slice(0, end));
}

/** A refusal retrying cannot fix (LiteCore retries only timeouts, throttling, server errors and network failures). */
const isPermanentStatus = (code: number): boolean => code >= 400 && code < 500 && code !== 408 && code !== 429;

function entryFlags(value: unknown): number {
  if (value === true) return ChangeFlags.deleted;
  return typeof value === 'number' && Number.isInteger(value) ? value : 0;
}

/**
 * The active pull, after LiteCore's Puller, RevFinder and IncomingRev: `subChanges` from the checkpoint,
 * then for each `changes` message a reply naming the wanted revisions with the ancestors held locally;
 * each `rev` is inserted with its history after its missing blobs are fetched with `getAttachment`;
 * revocations and removals purge the local copy. An empty `changes` means caught up.
 */
export class Puller {
  readonly #ctx: WorkerContext;
  readonly #sequences: SequenceTracker;
  #caughtUp = false;
  #expectedRevs = 0;
  #active = 0;

  constructor(ctx: WorkerContext, since: unknown) {
    this.#ctx = ctx;
    this.#sequences = new SequenceTracker(since);
  }

  /** True while changes or revisions are still being received or handled. */
  get busy(): boolean {
    return !this.#caughtUp || this.#expectedRevs > 0 || this.#active > 0 || this.#sequences.size > 0;
  }

  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  async start(): Promise<void> {
    const since = this.#sequences.since;
    const properties: Record<string, string | number> = { batch: this.#ctx.batchSize ?? CHANGES_BATCH_SIZE, versioning: 'rev-trees' };
    if (since !== null && since !== undefined) properties.since = JSON.stringify(since);
    else properties.activeOnly = 'true';
    if (this.#ctx.continuous) properties.continuous = 'true';
    if (this.#ctx.cbMobile >= 3) properties.revocations = 'true';
    const channels = this.#ctx.channels;
    if (channels && channels.length > 0) {
      properties.filter = 'sync_gateway/bychannel';
      properties.channels = channels.join(',');
    }
    const docIds = this.#ctx.docIds;
    const body = docIds && docIds.length > 0 ? JSON.stringify({ docIDs: docIds }) : undefined;
    const reply = await this.#ctx.connection.sendRequest({ profile: 'subChanges', properties, ...(body === undefined ? {} : { body }) });
    if (reply.error) {
      throw new ReplicationError(reply.error.code, `subChanges refused: ${reply.error.message}`, { permanent: isPermanentStatus(reply.error.code) });
    }
  }

  async handleChanges(rq: IncomingRequest): Promise<void> {
    let entries: unknown;
    try {
      entries = rq.body.length === 0 ? null : rq.bodyJSON();
    } catch {
      rq.respondWithError({ code: 400, message: 'Invalid JSON body' });
      return;
    }
    if (entries !== null && !Array.isArray(entries)) {
      rq.respondWithError({ code: 400, message: 'Invalid JSON body' });
      return;
    }
    if (entries === null || entries.length === 0) {
      this.#caughtUp = true;
      if (!rq.noReply) rq.respond();
      this.#ctx.activityChanged();
      return;
    }
    this.#caughtUp = false;
    this.#active++;
    try {
      const answers: Answer[] = [];
      const removals: { docId: string; revId: string; seq: unknown }[] = [];
      for (const entry of entries) {
        if (!Array.isArray(entry) || typeof entry[1] !== 'string' || typeof entry[2] !== 'string' || !entry[2].includes('-')) {
          throw new ReplicationError(400, 'Invalid entry in changes message');
        }
        const [seq, docId, revId] = entry as [unknown, string, string];
        const flags = entryFlags(entry[3]);
        this.#sequences.add(seq);
        if (flags > ChangeFlags.deleted && flags !== (ChangeFlags.deleted | ChangeFlags.removed)) {
          removals.push({ docId, revId, seq });
          answers.push(0);
        } else if (await this.#ctx.store.hasRevision(docId, revId)) {
          await this.#ctx.store.setRemoteRevision(docId, revId);
          answers.push(0);
          this.#sequences.complete(seq);
        } else {
          answers.push(await this.#ctx.store.possibleAncestors(docId, revId, MAX_POSSIBLE_ANCESTORS));
          this.#expectedRevs++;
        }
      }
      if (!rq.noReply) rq.respond({ properties: { maxHistory: MAX_HISTORY, blobs: 'true' }, body: encodeChangesAnswer(answers), compressed: true });
      for (const removal of removals) {
        await this.#ctx.store.purge(removal.docId);
        this.#ctx.documentEnded({ direction: 'pull', docId: removal.docId, revId: removal.revId, purged: true });
        this.#sequences.complete(removal.seq);
      }
      this.#checkpoint();
    } catch (err) {
      if (!rq.responded) rq.respondWithError({ code: errorStatus(err), message: errorMessage(err) });
      this.#ctx.fatal(err);
    } finally {
      this.#active--;
      this.#ctx.activityChanged();
    }
  }

  async handleRev(rq: IncomingRequest): Promise<void> {
    const docId = rq.property('id') ?? '';
    const revId = rq.property('rev') ?? '';
    const seq = parseSequenceProperty(rq.property('sequence'));
    this.#expectedRevs = Math.max(0, this.#expectedRevs - 1);
    this.#active++;
    try {
      if (docId === '' || !revId.includes('-')) throw new ReplicationError(400, 'rev message without a valid id and rev');
      const parsed: unknown = rq.body.length === 0 ? {} : rq.bodyJSON();
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ReplicationError(400, 'rev body is not a JSON object');
      const body = parsed as JsonObject;
      if (body._removed === true) {
        await this.#ctx.store.purge(docId);
        if (!rq.noReply) rq.respond();
        this.#ctx.documentEnded({ direction: 'pull', docId, revId, purged: true });
      } else {
        // Blobs and attachments all carry a digest: a body without one needs no blob work.
        const mayHoldBlobs = rq.body.includes(DIGEST_KEY);
        if (mayHoldBlobs) await this.#fetchMissingBlobs(docId, body);
        const history = (rq.property('history') ?? '').split(',').filter((r) => r !== '');
        const deleted = isTrue(rq.property('deleted')) || body._deleted === true;
        const { _id: _i, _rev: _r, _deleted: _d, ...properties } = mayHoldBlobs ? stripLegacyAttachments(body) : body;
        await insertPulledRevision(this.#ctx.store, { docId, revId, history, body: properties, deleted }, this.#ctx.conflictResolver);
        if (!rq.noReply) rq.respond();
        this.#ctx.documentEnded({ direction: 'pull', docId, revId, deleted });
      }
    } catch (err) {
      if (!rq.responded) rq.respondWithError({ code: errorStatus(err), message: errorMessage(err) });
      this.#ctx.documentEnded({ direction: 'pull', docId, revId, error: { status: errorStatus(err), message: errorMessage(err) } });
    } finally {
      if (seq !== undefined) this.#sequences.complete(seq);
      this.#active--;
      this.#checkpoint();
      this.#ctx.activityChanged();
    }
  }

  handleNoRev(rq: IncomingRequest): void {
    const docId = rq.property('id') ?? '';
    const revId = rq.property('rev') ?? '';
    this.#expectedRevs = Math.max(0, this.#expectedRevs - 1);
    const seq = parseSequenceProperty(rq.property('sequence'));
    if (seq !== undefined) this.#sequences.complete(seq);
    if (!rq.noReply) rq.respond();
    const status = Number.parseInt(rq.property('error') ?? '', 10);
    this.#ctx.documentEnded({
      direction: 'pull',
      docId,
      revId,
      error: { status: Number.isFinite(status) ? status : 404, message: rq.property('reason') ?? 'the peer could not send the revision' },
    });
    this.#checkpoint();
    this.#ctx.activityChanged();
  }

  #checkpoint(): void {
    // A revision finishing after its connection closed must not move the checkpoint of the next session.
    if (this.#ctx.connection.isOpen) this.#ctx.checkpointer.setRemote(this.#sequences.since);
  }

  async #fetchMissingBlobs(docId: string, body: JsonObject): Promise<void> {
    for (const ref of blobRefs(body)) {
      if (await this.#ctx.store.getBlob(ref.digest)) continue;
      const reply = await this.#ctx.connection.sendRequest({ profile: 'getAttachment', properties: { digest: ref.digest, docID: docId } });
      if (reply.error) throw new ReplicationError(reply.error.code || 502, `getAttachment ${ref.digest} failed: ${reply.error.message}`);
      const data = Uint8Array.from(reply.body);
      if (blobDigest(data) !== ref.digest || (ref.length !== undefined && data.length !== ref.length)) {
        throw new ReplicationError(502, `the blob received for ${ref.digest} does not match its digest`);
      }
      await this.#ctx.store.putBlob(data);
    }
  }
}
