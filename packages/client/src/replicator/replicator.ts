import type { BlipCloseEvent, IncomingRequest } from '@syncline/protocol';
import type { LocalStore } from '../store/local-store.ts';
import type { Connector, Session } from '../transport/connector.ts';
import { cbMobileVersion } from '../transport/connector.ts';
import { blipSyncUrl, webSocketConnector, type BasicAuth } from '../transport/websocket-connector.ts';
import { checkpointId } from './checkpoint-id.ts';
import { Checkpointer } from './checkpointer.ts';
import type { ConflictResolver } from './conflict-resolver.ts';
import { ReplicationError } from './errors.ts';
import { Puller } from './puller.ts';
import { Pusher } from './pusher.ts';
import { canTransition, type ReplicatorState } from './state.ts';
import { errorMessage, type DocumentEvent, type WorkerContext } from './worker-context.ts';

export type ReplicationType = 'pull' | 'push' | 'pushAndPull';

export interface RetryOptions {
  /** First delay before reconnecting; doubles each attempt. Default 1 s. */
  initialDelayMs?: number;
  /** Longest delay. Default 5 minutes (LiteCore's maximum retry interval). */
  maxDelayMs?: number;
  /** Attempts before giving up. Default: unlimited when continuous, 10 for one-shot (as Couchbase Lite). */
  maxAttempts?: number;
}

export interface ReplicatorOptions {
  /** The remote database, `ws(s)://host:port/db` (http(s) accepted; `/_blipsync` is appended). */
  url: string;
  db: LocalStore;
  type: ReplicationType;
  continuous?: boolean;
  channels?: string[];
  docIds?: string[];
  /** Basic credentials, sent after the server's challenge. */
  auth?: BasicAuth;
  /** A Sync Gateway session cookie value. */
  sessionCookie?: string;
  headers?: Record<string, string>;
  /**
   * `wss://` only: the server's certificate, as PEM text or SHA-256 fingerprint; exactly that certificate is
   * accepted (even self-signed), any other stops the replicator with a permanent error (see webSocketConnector).
   */
  pinnedCert?: string;
  retry?: RetryOptions;
  /** Replaces the WebSocket transport (tests use an in-memory peer). */
  connector?: Connector;
  /**
   * While busy, a changed checkpoint is saved this long after the first change (LiteCore's Checkpointer
   * saves periodically, so that an interrupted replication resumes near where it stopped). Default 5 s.
   */
  checkpointSaveDelayMs?: number;
  /** Resolves conflicts found while pulling; default: Couchbase Lite's rules (a deletion wins, else the longer history). */
  conflictResolver?: ConflictResolver;
  /** Changes per batch, both ways (default 200, LiteCore's). */
  batchSize?: number;
}

export interface ReplicatorStatus {
  state: ReplicatorState;
  /** The error that stopped the replicator or made it go offline. */
  error: Error | undefined;
  documentsPulled: number;
  documentsPushed: number;
  documentErrors: number;
}

export interface ReplicatorEvents {
  status: (status: ReplicatorStatus) => void;
  document: (event: DocumentEvent) => void;
}

/** Couchbase Lite's style of replicator: one BLIP session, a puller and/or a pusher, checkpoints, retries. */
export class Replicator implements AsyncDisposable {
  readonly #options: ReplicatorOptions;
  readonly #connector: Connector;
  readonly #checkpointer: Checkpointer;
  readonly #listeners: { [K in keyof ReplicatorEvents]: Set<ReplicatorEvents[K]> } = { status: new Set(), document: new Set() };
  #state: ReplicatorState = 'stopped';
  #error: Error | undefined;
  #counts = { pulled: 0, pushed: 0, errors: 0 };
  #session: Session | undefined;
  #generation = 0;
  #puller: Puller | undefined;
  #pusher: Pusher | undefined;
  #ready = false;
  #attempts = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #saving: Promise<void> = Promise.resolve();
  #saveTimer: NodeJS.Timeout | undefined;

  constructor(options: ReplicatorOptions) {
    this.#options = options;
    const remoteUrl = blipSyncUrl(options.url);
    this.#connector =
      options.connector ?? webSocketConnector({ url: remoteUrl, auth: options.auth, sessionCookie: options.sessionCookie, headers: options.headers, pinnedCert: options.pinnedCert });
    this.#checkpointer = new Checkpointer(
      options.db,
      checkpointId({ localUuid: options.db.uuid, remoteUrl, channels: options.channels, docIds: options.docIds }),
    );
  }

  get state(): ReplicatorState {
    return this.#state;
  }

  get status(): ReplicatorStatus {
    return {
      state: this.#state,
      error: this.#error,
      documentsPulled: this.#counts.pulled,
      documentsPushed: this.#counts.pushed,
      documentErrors: this.#counts.errors,
    };
  }

  get checkpointId(): string {
    return this.#checkpointer.id;
  }

  on<K extends keyof ReplicatorEvents>(event: K, listener: ReplicatorEvents[K]): () => void {
    const set = this.#listeners[event] as Set<ReplicatorEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Resolves at the next state matching `predicate` (at once if the current state matches). */
  waitFor(predicate: (state: ReplicatorState) => boolean): Promise<ReplicatorStatus> {
    if (predicate(this.#state)) return Promise.resolve(this.status);
    return new Promise((resolve) => {
      const off = this.on('status', (status) => {
        if (!predicate(status.state)) return;
        off();
        resolve(status);
      });
    });
  }

  /** Resolves when the replicator is idle (continuous) or stopped. */
  whenIdle(): Promise<ReplicatorStatus> {
    return this.waitFor((s) => s === 'idle' || s === 'stopped');
  }

  whenStopped(): Promise<ReplicatorStatus> {
    return this.waitFor((s) => s === 'stopped');
  }

  start(): void {
    if (this.#state !== 'stopped') return;
    this.#error = undefined;
    this.#attempts = 0;
    this.#connect();
  }

  /** Stops replicating: saves the checkpoint if possible and closes the connection. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    if (this.#state === 'offline' || this.#state === 'connecting') {
      clearTimeout(this.#retryTimer);
      this.#generation++;
      this.#session?.connection.close();
      this.#session = undefined;
      this.#set('stopped');
      return;
    }
    if (this.#state !== 'stopping') await this.#finish();
    await this.whenStopped();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // ---- connecting ----

  #connect(): void {
    const generation = ++this.#generation;
    this.#set('connecting');
    this.#attempts++;
    this.#open(generation).catch((err: unknown) => this.#failed(generation, err));
  }

  async #open(generation: number): Promise<void> {
    const session = await this.#connector({ onRequest: (rq) => this.#onRequest(generation, rq) });
    if (generation !== this.#generation) {
      session.connection.close();
      return;
    }
    this.#session = session;
    session.closed.then((event) => this.#closed(generation, event), () => undefined);
    const ctx = this.#context(generation, session);
    const checkpoint = await this.#checkpointer.read(session.connection);
    if (generation !== this.#generation) return;
    const { type } = this.#options;
    this.#puller = type === 'push' ? undefined : new Puller(ctx, checkpoint.remote);
    this.#pusher = type === 'pull' ? undefined : new Pusher(ctx, checkpoint.local);
    // Connected again: the error that made the replicator go offline is over (as LiteCore's status).
    this.#error = undefined;
    this.#set('busy');
    this.#attempts = 0;
    this.#ready = true;
    const pushing = this.#pusher?.run();
    await this.#puller?.start();
    await pushing;
  }

  #context(generation: number, session: Session): WorkerContext {
    return {
      connection: session.connection,
      store: this.#options.db,
      checkpointer: this.#checkpointer,
      cbMobile: cbMobileVersion(session.protocol),
      continuous: this.#options.continuous ?? false,
      channels: this.#options.channels,
      docIds: this.#options.docIds,
      conflictResolver: this.#options.conflictResolver,
      batchSize: this.#options.batchSize,
      documentEnded: (event) => {
        if (generation === this.#generation) this.#documentEnded(event);
      },
      activityChanged: () => {
        if (generation === this.#generation) this.#activityChanged();
      },
      fatal: (err) => this.#failed(generation, err),
    };
  }

  #onRequest(generation: number, rq: IncomingRequest): void | Promise<void> {
    if (generation !== this.#generation) {
      rq.respondWithError({ code: 503, message: 'replicator stopped' });
      return;
    }
    const puller = this.#puller;
    const pusher = this.#pusher;
    switch (rq.profile ?? '') {
      case 'changes':
        if (puller) return puller.handleChanges(rq);
        break;
      case 'rev':
        if (puller) return puller.handleRev(rq);
        break;
      case 'norev':
        if (puller) return puller.handleNoRev(rq);
        break;
      case 'getAttachment':
      case 'proveAttachment':
        if (pusher) return pusher.handleBlobRequest(rq);
        rq.respondWithError({ domain: 'HTTP', code: 404, message: 'no such blob' });
        return;
      default:
        break;
    }
    rq.respondWithError({ code: 404, message: `no handler for ${rq.profile ?? 'message'}` });
  }

  // ---- progress ----

  #documentEnded(event: DocumentEvent): void {
    if (event.error) this.#counts.errors++;
    else if (event.direction === 'pull') this.#counts.pulled++;
    else this.#counts.pushed++;
    for (const listener of this.#listeners.document) listener(event);
  }

  #activityChanged(): void {
    if (!this.#ready || (this.#state !== 'busy' && this.#state !== 'idle')) return;
    const done = this.#caughtUp();
    if (!done) {
      this.#set('busy');
      this.#saveSoon();
      return;
    }
    const generation = this.#generation;
    this.#save()
      .then(() => {
        if (generation !== this.#generation || !this.#caughtUp() || (this.#state !== 'busy' && this.#state !== 'idle')) return;
        if (this.#options.continuous) this.#set('idle');
        else void this.#finish();
      })
      .catch((err: unknown) => this.#failed(generation, err));
  }

  #caughtUp(): boolean {
    const pullDone = this.#puller === undefined || !this.#puller.busy;
    const pushDone = this.#pusher === undefined || this.#pusher.caughtUp;
    return pullDone && pushDone;
  }

  /** Schedules a checkpoint save while busy; a failure is left for the next save (or the next run). */
  #saveSoon(): void {
    if (this.#saveTimer !== undefined) return;
    const generation = this.#generation;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      if (generation !== this.#generation || (this.#state !== 'busy' && this.#state !== 'idle')) return;
      this.#save().catch(() => undefined);
    }, this.#options.checkpointSaveDelayMs ?? 5000);
    this.#saveTimer.unref();
  }

  #save(): Promise<void> {
    const session = this.#session;
    if (!session) return Promise.resolve();
    const next = this.#saving.then(() => this.#checkpointer.save(session.connection));
    this.#saving = next.catch(() => undefined);
    return next;
  }

  // ---- ending ----

  async #finish(): Promise<void> {
    const session = this.#session;
    this.#set('stopping');
    this.#pusher?.stop();
    if (session?.connection.isOpen) {
      try {
        await this.#save();
      } catch {
        // The checkpoint is saved again next time.
      }
      session.connection.close();
    } else {
      this.#endSession();
      this.#set('stopped');
    }
  }

  #closed(generation: number, event: BlipCloseEvent): void {
    if (generation !== this.#generation) return;
    this.#endSession();
    if (this.#state === 'stopping') {
      this.#set('stopped');
      return;
    }
    const error = event.error ?? new ReplicationError(event.code, `connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`);
    this.#retryOrStop(error);
  }

  #failed(generation: number, err: unknown): void {
    if (generation !== this.#generation || this.#state === 'stopped') return;
    const error = err instanceof Error ? err : new Error(errorMessage(err));
    const session = this.#session;
    this.#endSession();
    session?.connection.close(1011, error.message);
    if (this.#state === 'stopping') {
      this.#set('stopped');
      return;
    }
    this.#retryOrStop(error);
  }

  #endSession(): void {
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    this.#generation++;
    this.#ready = false;
    this.#pusher?.stop();
    this.#puller = undefined;
    this.#pusher = undefined;
    this.#session = undefined;
  }

  #retryOrStop(error: Error): void {
    this.#error = error;
    const retry = this.#options.retry ?? {};
    const maxAttempts = retry.maxAttempts ?? (this.#options.continuous ? Number.POSITIVE_INFINITY : 10);
    if ((error instanceof ReplicationError && error.permanent) || this.#attempts >= maxAttempts) {
      if (this.#state === 'connecting') this.#set('stopped');
      else {
        this.#set(this.#state === 'offline' ? 'stopped' : 'stopping');
        if (this.#state === 'stopping') this.#set('stopped');
      }
      return;
    }
    if (this.#state !== 'offline') this.#set('offline');
    const initial = retry.initialDelayMs ?? 1000;
    const delay = Math.min(initial * 2 ** Math.max(0, this.#attempts - 1), retry.maxDelayMs ?? 300_000);
    this.#retryTimer = setTimeout(() => {
      if (this.#state === 'offline') this.#connect();
    }, delay);
  }

  #set(state: ReplicatorState): void {
    if (state === this.#state) return;
    if (!canTransition(this.#state, state)) throw new Error(`replicator cannot go from ${this.#state} to ${state}`);
    this.#state = state;
    const status = this.status;
    for (const listener of this.#listeners.status) listener(status);
  }
}
