import type { BlipConnection, IncomingMessage } from '@syncline/protocol';
import type { Logger } from '../../base/logger.ts';
import { loadUserAccess } from '../../db/access/user-access.ts';
import { readChangesBatch } from '../../db/changes.ts';
import type { Database } from '../../db/database.ts';
import { FINAL, type FeedPosition } from '../../db/feed-position.ts';
import type { AllowedAttachments } from './attachments.ts';
import { changeRow, parseChangesAnswer, type ChangeRow, type SubChangesParams } from './messages.ts';
import { loadDocuments, sendRevision } from './rev-sender.ts';
import type { CBMobileVersion } from './subprotocol.ts';

/** Sync Gateway's DefaultMaxConcurrentChangesBatches: `changes` messages awaiting the client's answer at once. */
const MAX_IN_FLIGHT_BATCHES = 2;
/** A waiting continuous feed wakes at least this often to notice a closed or offline database. */
const IDLE_RECHECK_MS = 5_000;

export interface PullContext {
  db: Database;
  userName: string;
  version: CBMobileVersion;
  connection: BlipConnection;
  log: Logger;
  attachments: AllowedAttachments;
  /** Called when the database goes away under the feed: the session closes so the client reconnects. */
  databaseGone(): void;
}

/** The sequence a feed waits beyond for new changes. */
const waitSeq = (p: FeedPosition): number => (p.seq === FINAL ? p.trigger : p.trigger - 1);

/**
 * The server side of a pull (`subChanges`): reads the user's feed in batches, sends each as a `changes`
 * message, answers the client's reply with `rev`/`norev` messages, sends an empty `changes` once caught up,
 * and in continuous mode keeps sending new changes as the notifier announces them. At most two batches await
 * an answer at a time. The user's access is reloaded for every batch (by readChangesBatch) and every answer.
 */
export class PullFeed {
  readonly #ctx: PullContext;
  readonly #params: SubChangesParams;
  readonly #abort = new AbortController();
  #inFlight = 0;
  #slotWaiters: (() => void)[] = [];

  constructor(ctx: PullContext, params: SubChangesParams) {
    this.#ctx = ctx;
    this.#params = params;
  }

  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  stop(): void {
    this.#abort.abort();
    for (const wake of this.#slotWaiters.splice(0)) wake();
  }

  async run(): Promise<void> {
    const { db, log } = this.#ctx;
    const params = this.#params;
    const ended = db.stats.startPull(params.continuous, params.since.trigger === 0 && params.since.seq === FINAL);
    try {
      let since = params.since;
      let caughtUp = false;
      while (this.#active()) {
        if (db.closed || db.state !== 'Online') {
          this.#ctx.databaseGone();
          return;
        }
        const batch = await readChangesBatch(
          db,
          {
            since,
            limit: params.batch,
            // activeOnly skips deletions and removals of the initial catch-up only: later ones must reach the client.
            activeOnly: params.activeOnly && !caughtUp,
            ...(params.channels ? { channels: params.channels } : {}),
            ...(params.docIds ? { docIds: params.docIds } : {}),
          },
          this.#ctx.userName,
        );
        if (!this.#active()) return;
        const rows = batch.results.map((e) => changeRow(e, this.#ctx.version, params.revocations)).filter((r): r is ChangeRow => r !== null);
        if (rows.length > 0) await this.#sendBatch(rows);
        since = batch.last;
        if (batch.results.length >= params.batch) continue;
        if (!caughtUp) {
          caughtUp = true;
          if (!this.#active()) return;
          this.#ctx.connection.sendNoReply({ profile: 'changes', body: '[]' });
          log.debug({ since: batch.last }, 'pull caught up');
          if (!params.continuous) return;
        }
        await db.notifier.waitFor(waitSeq(since), IDLE_RECHECK_MS, this.#abort.signal);
      }
    } finally {
      ended();
    }
  }

  #active(): boolean {
    return !this.stopped && this.#ctx.connection.isOpen;
  }

  async #sendBatch(rows: ChangeRow[]): Promise<void> {
    while (this.#inFlight >= MAX_IN_FLIGHT_BATCHES && this.#active()) {
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    if (!this.#active()) return;
    this.#inFlight++;
    const release = (): void => {
      this.#inFlight--;
      this.#slotWaiters.shift()?.();
    };
    this.#ctx.connection
      .sendRequest({ profile: 'changes', body: JSON.stringify(rows), compressed: true })
      .then((reply) => this.#answered(rows, reply))
      .catch((err: unknown) => {
        if (this.#ctx.connection.isOpen) this.#ctx.log.warn({ err }, 'handling the answer to a changes message failed');
      })
      .finally(release);
  }

  /** The client's answer to a `changes` message: send every revision it asked for, in order. */
  async #answered(rows: ChangeRow[], reply: IncomingMessage): Promise<void> {
    const { log } = this.#ctx;
    const error = reply.error;
    if (error) {
      log.info({ code: error.code, domain: error.domain, message: error.message }, 'client answered a changes message with an error');
      return;
    }
    let answer: (string[] | null)[] | undefined;
    try {
      answer = parseChangesAnswer(reply.bodyJSON());
    } catch {
      answer = undefined;
    }
    if (answer === undefined) {
      log.info('invalid answer to a changes message');
      return;
    }
    const maxHistory = Number.parseInt(reply.properties.maxHistory ?? '', 10);
    const access = await loadUserAccess(this.#ctx.db, this.#ctx.userName);
    // A user deleted or disabled meanwhile reads nothing (a null access would mean the admin).
    if (!access || access.user.disabled) return;
    const knownByDoc = new Map<string, Set<string>>();
    const wanted: number[] = [];
    const count = Math.min(answer.length, rows.length);
    for (let i = 0; i < count; i++) if (answer[i] !== null && answer[i] !== undefined) wanted.push(i);
    if (wanted.length === 0 || !this.#ctx.connection.isOpen) return;
    // One read for the whole batch; the revisions then go out in one burst of frames.
    const docs = await loadDocuments(this.#ctx.db, [...new Set(wanted.map((i) => rows[i]![1]))]);
    for (const i of wanted) {
      if (!this.#ctx.connection.isOpen) return;
      const [seq, id, rev] = rows[i]!;
      let set = knownByDoc.get(id);
      if (!set) knownByDoc.set(id, (set = new Set()));
      for (const r of answer[i]!) set.add(r);
      sendRevision(this.#ctx, { seq, id, rev }, set, Number.isFinite(maxHistory) && maxHistory > 0 ? maxHistory : 0, access, docs.get(id));
    }
  }
}
