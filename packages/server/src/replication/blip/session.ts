import { BlipConnection, type BlipCloseEvent, type IncomingMessage, type IncomingRequest, type OutgoingRequest } from '@syncline/protocol';
import { conflict, isSynclineError, unavailable } from '../../base/errors.ts';
import type { Logger } from '../../base/logger.ts';
import type { Database } from '../../db/database.ts';
import { blipProfileAccess, clientSyncRefusal, type ClientSyncSetting } from '../../edge/client-sync.ts';
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
  /**
   * Asks the transport to stop (true) or resume (false) reading from the socket: the session holds too many
   * requests in progress. Back-pressure reaches the peer through TCP.
   */
  setBusy?(busy: boolean): void;
  /** Around a burst of frames: lets the socket gather them into one write. */
  beginBurst?(): void;
  endBurst?(): void;
}

/** Limits of one session's incoming data (see `sessionLimits`). */
export interface BlipSessionLimits {
  /** Largest incoming message body (BLIP `maxMessageBytes`); above it the connection closes with 1009. */
  maxMessageBytes: number;
  /** Most bytes buffered for incoming messages not yet complete (BLIP `maxPendingBytes`). */
  maxPendingBytes: number;
}

/** Requests being handled at once above which the session stops reading from the socket. */
const MAX_ACTIVE_HANDLERS = 64;
/** Request bodies held by running handlers above which the session stops reading from the socket. */
const MAX_ACTIVE_BYTES = 32 * 1024 * 1024;
/** Request bytes held by handlers waiting for a reply from the peer; more are refused with 503 (see `askPeer`). */
const MAX_WAITING_BYTES = 64 * 1024 * 1024;

/**
 * The BLIP limits for a database: a message may carry a document body (max_document_size) and, in a
 * getAttachment reply or inline, an attachment (max_attachment_size), plus room for properties and JSON
 * overhead; at most two such messages may be in progress at once.
 */
export function sessionLimits(config: { max_document_size: number; max_attachment_size: number }): BlipSessionLimits {
  const maxMessageBytes = config.max_document_size + config.max_attachment_size + 1024 * 1024;
  return { maxMessageBytes, maxPendingBytes: 2 * maxMessageBytes };
}

export interface BlipSessionOptions {
  db: Database;
  /** The authenticated user (or GUEST) the replication acts for. */
  userName: string;
  version: CBMobileVersion;
  log: Logger;
  transport: BlipTransport;
  /** Default: `sessionLimits(db.config)`. */
  limits?: BlipSessionLimits;
  /** zlib level of compressed frames, 1-9; 0 sends every frame uncompressed (config `replicator.blip_compression`). Default 1. */
  compressionLevel?: number;
  /** Edge mode's `enable_client_sync` of a client connection: refuses the pull or push profiles it does not allow (403). */
  clientSync?: ClientSyncSetting;
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
  #activeHandlers = 0;
  #waitingBytes = 0;
  #activeBytes = 0;
  #busy = false;

  #pushFor(rq: IncomingRequest): PushContext {
    return {
      db: this.#opts.db,
      userName: this.#opts.userName,
      connection: this.connection,
      log: this.#log,
      askPeer: (request) => this.#askPeer(request, rq.body.length),
    };
  }

  /**
   * A request a handler sends to the peer (getAttachment, proveAttachment). While it waits for the reply the
   * handler (and the `bytes` of its request) does not count as busy: reading must go on, or the reply it
   * waits for would never be read. Waiting handlers are capped by their bytes instead; past the cap the
   * request fails with 503 rather than stopping the connection.
   */
  async #askPeer(request: OutgoingRequest, bytes: number): Promise<IncomingMessage> {
    if (this.#waitingBytes + bytes > MAX_WAITING_BYTES) throw unavailable('Too many revisions waiting for attachments from this client');
    this.#waitingBytes += bytes;
    this.#activeHandlers--;
    this.#activeBytes -= bytes;
    this.#updateBusy();
    try {
      return await this.connection.sendRequest(request);
    } finally {
      this.#waitingBytes -= bytes;
      this.#activeHandlers++;
      this.#activeBytes += bytes;
      this.#updateBusy();
    }
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
      proposeChanges: (rq) => handleProposeChanges(this.#pushFor(rq), rq),
      changes: (rq) => handlePushChanges(this.#pushFor(rq), rq),
      rev: (rq) => handleRev(this.#pushFor(rq), rq),
    };
    const limits = opts.limits ?? sessionLimits(opts.db.config);
    this.connection = new BlipConnection({
      maxMessageBytes: limits.maxMessageBytes,
      maxPendingBytes: limits.maxPendingBytes,
      send: (frame) => opts.transport.send(frame),
      closeTransport: (code, reason) => opts.transport.close(code, reason),
      compress: (opts.compressionLevel ?? 1) > 0,
      compressionLevel: Math.max(1, opts.compressionLevel ?? 1),
      beginBurst: () => opts.transport.beginBurst?.(),
      endBurst: () => opts.transport.endBurst?.(),
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
    if (this.#opts.clientSync !== undefined) {
      const refused = clientSyncRefusal(this.#opts.clientSync, blipProfileAccess(profile));
      if (refused !== undefined) {
        this.#log.info({ profile }, 'BLIP request refused by enable_client_sync');
        rq.respondWithError({ domain: 'HTTP', code: 403, message: refused });
        return;
      }
    }
    const bytes = rq.body.length;
    this.#activeHandlers++;
    this.#activeBytes += bytes;
    this.#updateBusy();
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
    } finally {
      this.#activeHandlers--;
      this.#activeBytes -= bytes;
      this.#updateBusy();
    }
  }

  /**
   * A peer may send complete requests faster than they are handled (each may hold a document body); past
   * MAX_ACTIVE_HANDLERS or MAX_ACTIVE_BYTES the transport stops reading until enough of them finish.
   */
  #updateBusy(): void {
    const busy = this.#busy
      ? this.#activeHandlers > MAX_ACTIVE_HANDLERS / 2 || this.#activeBytes > MAX_ACTIVE_BYTES / 2
      : this.#activeHandlers >= MAX_ACTIVE_HANDLERS || this.#activeBytes >= MAX_ACTIVE_BYTES;
    if (busy === this.#busy) return;
    this.#busy = busy;
    this.#opts.transport.setBusy?.(busy);
  }

  #subChanges(rq: IncomingRequest): void {
    const params = parseSubChanges(rq);
    if (this.#pull !== undefined && !this.#pull.stopped) {
      throw conflict('blipHandler already has an outstanding subChanges. Cannot open another one');
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
