import { BlipConnection, type BlipCloseEvent, type IncomingRequest } from '@syncline/protocol';
import { internalError, isSynclineError } from '../../base/errors.ts';
import type { Logger } from '../../base/logger.ts';
import type { Database } from '../../db/database.ts';
import { AllowedAttachments, handleGetAttachment } from './attachments.ts';
import { handleGetCheckpoint, handleSetCheckpoint } from './checkpoints.ts';
import { parseSubChanges } from './messages.ts';
import { PullFeed } from './pull.ts';
import { handleProposeChanges, handlePushChanges, handleRev, type PushContext } from './push.ts';
import type { CBMobileVersion } from './subprotocol.ts';

/** What the session needs from its socket. */
export interface BlipTransport {
  /** Writes one binary frame; false when the socket is backed up (then call `resumeWriting`). */
  send(frame: Uint8Array): boolean;
  close(code: number, reason: string): void;
}

export interface BlipSessionOptions {
  db: Database;
  /** The authenticated user (or GUEST) the replication acts for. */
  userName: string;
  version: CBMobileVersion;
  log: Logger;
  transport: BlipTransport;
}

/** WebSocket close code asking the client to come back later (the database went offline or away). */
const CLOSE_GOING_AWAY = 1001;

type Handler = (rq: IncomingRequest) => void | Promise<void>;

/**
 * One Couchbase Lite replication connection: a BlipConnection over the socket, the request handlers by
 * profile, and the pull feed it may run. Errors of a handler answer only that request: a SynclineError as
 * `Error-Domain: HTTP` with its status (Sync Gateway's convention), anything else as HTTP 500. Unknown
 * profiles get `BLIP 404`, as go-blip's Unhandled does.
 */
export class BlipSyncSession {
  readonly connection: BlipConnection;
  readonly #opts: BlipSessionOptions;
  readonly #log: Logger;
  readonly #attachments = new AllowedAttachments();
  readonly #handlers: Record<string, Handler>;
  #pull: PullFeed | undefined;
  #closeListeners: ((event: BlipCloseEvent) => void)[] = [];

  get #push(): PushContext {
    return { db: this.#opts.db, userName: this.#opts.userName, connection: this.connection, log: this.#log };
  }

  constructor(opts: BlipSessionOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#handlers = {
      getCheckpoint: (rq) => handleGetCheckpoint(opts.db, rq),
      setCheckpoint: (rq) => handleSetCheckpoint(opts.db, rq),
      subChanges: (rq) => this.#subChanges(rq),
      unsubChanges: (rq) => {
        this.#pull?.stop();
        this.#pull = undefined;
        rq.respond();
      },
      getAttachment: (rq) => handleGetAttachment(opts.db, this.#attachments, rq),
      proposeChanges: (rq) => handleProposeChanges(this.#push, rq),
      changes: (rq) => handlePushChanges(this.#push, rq),
      rev: (rq) => handleRev(this.#push, rq),
    };
    this.connection = new BlipConnection({
      send: (frame) => opts.transport.send(frame),
      closeTransport: (code, reason) => opts.transport.close(code, reason),
      onRequest: (rq) => this.#dispatch(rq),
      onHandlerError: (err, rq) => this.#log.error({ err, profile: rq.profile }, 'BLIP handler failed'),
      onClose: (event) => this.#closed(event),
    });
  }

  /** Feeds one binary WebSocket message. */
  receive(frame: Uint8Array): void {
    this.connection.receive(frame);
  }

  resumeWriting(): void {
    this.connection.resumeWriting();
  }

  /** The socket closed. */
  transportClosed(code: number, reason: string): void {
    this.connection.transportClosed(code, reason);
  }

  close(code = 1000, reason = ''): void {
    this.connection.close(code, reason);
  }

  onClose(listener: (event: BlipCloseEvent) => void): void {
    this.#closeListeners.push(listener);
  }

  async #dispatch(rq: IncomingRequest): Promise<void> {
    const profile = rq.profile;
    const handler = profile === undefined ? undefined : Object.hasOwn(this.#handlers, profile) ? this.#handlers[profile] : undefined;
    if (handler === undefined) {
      this.#log.info({ profile }, 'unknown BLIP profile');
      rq.respondWithError({ code: 404, message: 'No handler for BLIP request' });
      return;
    }
    try {
      await handler(rq);
    } catch (err) {
      if (rq.responded || !this.connection.isOpen) {
        if (!isSynclineError(err)) this.#log.error({ err, profile }, 'BLIP handler failed after answering');
        return;
      }
      if (isSynclineError(err)) {
        this.#log.debug({ profile, status: err.status, reason: err.reason }, 'BLIP request refused');
        rq.respondWithError({ domain: 'HTTP', code: err.status, message: err.reason });
      } else {
        this.#log.error({ err, profile }, 'BLIP handler failed');
        rq.respondWithError({ domain: 'HTTP', code: 500, message: 'Internal error' });
      }
    }
  }

  #subChanges(rq: IncomingRequest): void {
    const params = parseSubChanges(rq);
    if (this.#pull !== undefined && !this.#pull.stopped) {
      throw internalError('blipHandler already has an outstanding subChanges. Cannot open another one');
    }
    const pull = new PullFeed(
      {
        db: this.#opts.db,
        userName: this.#opts.userName,
        version: this.#opts.version,
        connection: this.connection,
        log: this.#log,
        attachments: this.#attachments,
        databaseGone: () => this.close(CLOSE_GOING_AWAY, 'database unavailable'),
      },
      params,
    );
    this.#pull = pull;
    rq.respond();
    pull.run().then(
      () => {
        if (this.#pull === pull && !params.continuous) this.#pull = undefined;
      },
      (err: unknown) => {
        if (!this.connection.isOpen) return;
        this.#log.error({ err }, 'pull feed failed; closing the connection');
        this.close(1011, 'changes feed failed');
      },
    );
  }

  #closed(event: BlipCloseEvent): void {
    this.#pull?.stop();
    this.#pull = undefined;
    if (event.error) this.#log.info({ code: event.code, reason: event.reason }, 'BLIP connection failed');
    else this.#log.debug({ code: event.code, initiator: event.initiator }, 'BLIP connection closed');
    for (const listener of this.#closeListeners) listener(event);
  }
}
