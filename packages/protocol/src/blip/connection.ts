/**
 * A BLIP connection, independent of any transport.
 *
 * Model. The connection turns frames into messages and messages into frames; it never touches a
 * socket. The transport (a WebSocket in the server) calls `receive(frame)` for each binary message and
 * `transportClosed()` when the socket goes away; the connection calls the `send(frame)` it was given for
 * each frame it wants written, and `closeTransport(code, reason)` when it wants the socket closed.
 * Everything is synchronous and single-threaded: `receive` decodes, checks and dispatches a frame before
 * it returns, and never throws.
 *
 * Outgoing. `sendRequest` and `IncomingRequest.respond` encode the message at once and put it in the
 * outbox (see `Outbox` for the round-robin and urgent rules, from LiteCore's BLIPIO). A pump, run through
 * the `schedule` option (a microtask by default, so a burst of sends is batched), pops one message at a
 * time and writes one frame of it: up to 16 KiB, or 4 KiB when an urgent message waits right behind a
 * normal one (LiteCore's frame sizes). Requests are numbered from 1 when their first frame is written, so
 * messages always begin in number order; replies reuse their request's number in a separate space. The
 * pump stops when `send` returns false and resumes on `resumeWriting()`.
 *
 * Flow control (LiteCore's numbers, see constants.ts). The receiver of a multi-frame message counts the
 * bytes it received after each frame header and sends an ACK (ACKMSG or ACKRPY, urgent and no-reply,
 * body = varint byte count) every 50,000 bytes. The sender counts the same bytes; once 128,000 of one
 * message are unacknowledged it parks that message, which rejoins the outbox when an ACK brings the
 * count back under the threshold. Other messages keep flowing meanwhile.
 *
 * Incoming. Frames are grouped by type and number. A request must carry the next request number or
 * continue one in progress; a reply must answer a request of ours (replies to requests no longer waiting,
 * e.g. no-reply ones, are decoded and dropped so the checksum and deflate stream stay in step). Complete
 * requests go to `onRequest`; if it throws or rejects before answering, the peer gets `BLIP 501`, and
 * without a handler `BLIP 404` (LiteCore's behaviour). Complete replies resolve `sendRequest`'s promise,
 * error replies included: check `reply.error`.
 *
 * Closing. `close()` first writes what is queued (as far as the transport accepts it), then rejects the
 * requests still waiting for replies and asks the transport to close; `transportClosed()` drops everything.
 *
 * Errors and limits. Any malformed input (bad varint, unknown message type, bad checksum, corrupt deflate,
 * malformed properties, unexpected message number) and any exceeded limit (frame size, message size,
 * bytes buffered for incomplete messages, number of incomplete requests) is fatal: the connection closes
 * with a `BlipError`, asks the transport to close (1002 protocol error, 1009 too big, 1011 transport
 * failure), rejects every waiting request and reports through `onClose` once. Memory held for incoming
 * data is bounded by `maxPendingBytes` plus one frame; inflated output is checked against it before it is
 * written. `receive` takes ownership of the frame: a single-frame message's body may be a view into it.
 */
import { BIG_FRAME_SIZE, DEFAULT_FRAME_SIZE, FrameFlag, MessageType, PROFILE_PROPERTY } from './constants.ts';
import { OutputCodec } from './codec.ts';
import {
  DEFAULT_IDLE_RELEASE_MS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_MAX_PENDING_REQUESTS,
} from './connection-options.ts';
import type { BlipCloseEvent, BlipConnectionOptions, BlipConnectionStats, OutgoingRequest } from './connection-options.ts';
import { BlipError } from './errors.ts';
import { Inbox } from './inbox.ts';
import type { PendingReply } from './inbox.ts';
import { IncomingRequest } from './incoming-request.ts';
import { encodeMessagePayload } from './message.ts';
import type { IncomingMessage } from './message.ts';
import { MessageOut, Outbox } from './outbox.ts';
import type { PropertiesInit } from './properties.ts';
import { encodeUVarint } from './varint.ts';

/** WebSocket close codes used when the connection fails. */
const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_ABNORMAL = 1006;
const CLOSE_TOO_BIG = 1009;
const CLOSE_INTERNAL = 1011;

/** An outgoing request, with what to do with its reply. */
class RequestOut extends MessageOut {
  readonly reply: PendingReply | undefined;
  constructor(flags: number, payload: Uint8Array, reply: PendingReply | undefined) {
    super(flags, 0, payload);
    this.reply = reply;
  }
}

export class BlipConnection {
  readonly #options: BlipConnectionOptions;
  readonly #schedule: (task: () => void) => void;
  readonly #compress: boolean;
  readonly #output: OutputCodec;
  readonly #inbox: Inbox;
  readonly #outbox = new Outbox();
  /** Messages with frames sent and more to come, by key (request number, or minus reply number). */
  readonly #inFlight = new Map<number, MessageOut>();
  #open = true;
  #writable = true;
  #pumpScheduled = false;
  #pumping = false;
  #lastRequestNumber = 0;
  #paused = 0;
  #framesSent = 0;
  #framesReceived = 0;
  #bytesSent = 0;
  #bytesReceived = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #idleReleaseMs: number;

  constructor(options: BlipConnectionOptions) {
    this.#options = options;
    this.#schedule = options.schedule ?? queueMicrotask;
    this.#compress = options.compress ?? true;
    this.#output = new OutputCodec(options.compressionLevel);
    this.#idleReleaseMs = options.idleReleaseMs ?? DEFAULT_IDLE_RELEASE_MS;
    const limits = {
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      maxPendingBytes: options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
      maxPendingRequests: options.maxPendingRequests ?? DEFAULT_MAX_PENDING_REQUESTS,
    };
    this.#inbox = new Inbox(limits, {
      request: (message) => this.#dispatchRequest(message),
      ack: (ofReply, number, byteCount) => this.#ackReceived(ofReply, number, byteCount),
      sendAck: (type, number, byteCount) => {
        this.#enqueue(new MessageOut(type | FrameFlag.urgent | FrameFlag.noReply, number, encodeUVarint(byteCount)));
      },
    });
  }

  get isOpen(): boolean {
    return this.#open;
  }

  get stats(): BlipConnectionStats {
    return {
      framesSent: this.#framesSent,
      framesReceived: this.#framesReceived,
      bytesSent: this.#bytesSent,
      bytesReceived: this.#bytesReceived,
      pendingIncomingBytes: this.#inbox.pendingBytes,
      pendingIncomingRequests: this.#inbox.pendingRequests,
      awaitingReplies: this.#inbox.awaitingReplies,
      queuedMessages: this.#outbox.length,
      pausedMessages: this.#paused,
      holdsDeflater: this.#output.holdsDeflater,
      holdsInflater: this.#inbox.codec.holdsInflater,
    };
  }

  /** Sends a request; resolves with its reply (check `reply.error` for ERR replies), rejects if the connection closes first. */
  sendRequest(request: OutgoingRequest): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      this.#queueRequest(request, false, { resolve, reject });
    });
  }

  /** Sends a request with the NoReply flag; throws BlipError if the connection is closed or the message invalid. */
  sendNoReply(request: OutgoingRequest): void {
    this.#queueRequest(request, true, undefined);
  }

  /** Feeds one incoming frame. Never throws; malformed input closes the connection. */
  receive(frame: Uint8Array): void {
    if (!this.#open) return;
    this.#framesReceived++;
    this.#bytesReceived += frame.length;
    try {
      this.#inbox.receive(frame);
    } catch (err) {
      this.#fail(err instanceof BlipError ? err : new BlipError('bad-frame', `unexpected failure: ${String(err)}`, { cause: err }));
      return;
    }
    if (this.#inbox.codec.holdsInflater) this.#armIdleRelease();
  }

  /** The transport can take frames again after `send` returned false. */
  resumeWriting(): void {
    if (!this.#open || this.#writable) return;
    this.#writable = true;
    this.#schedulePump();
  }

  /**
   * Closes the connection in order: writes the frames already queued while the transport accepts them
   * (a message paused by flow control is dropped), rejects requests still waiting for a reply, and asks
   * the transport to close.
   */
  close(code: number = CLOSE_NORMAL, reason = ''): void {
    if (!this.#open) return;
    this.#pump();
    if (!this.#open) return;
    this.#shutdown({ code, reason, initiator: 'local' });
    this.#closeTransport(code, reason);
  }

  /** The transport's socket closed (peer close, network failure). */
  transportClosed(code: number = CLOSE_ABNORMAL, reason = ''): void {
    if (!this.#open) return;
    this.#shutdown({ code, reason, initiator: 'remote' });
  }

  // ---- outgoing ----

  #queueRequest(request: OutgoingRequest, noReply: boolean, reply: PendingReply | undefined): void {
    if (!this.#open) {
      const error = new BlipError('closed', 'the BLIP connection is closed');
      if (reply) return reply.reject(error);
      throw error;
    }
    let payload: Uint8Array;
    try {
      payload = encodeMessagePayload(withProfile(request), request.body);
    } catch (err) {
      if (reply && err instanceof BlipError) return reply.reject(err);
      throw err;
    }
    let flags: number = MessageType.request;
    if (request.urgent) flags |= FrameFlag.urgent;
    if (request.compressed && this.#compress) flags |= FrameFlag.compressed;
    if (noReply) flags |= FrameFlag.noReply;
    this.#enqueue(new RequestOut(flags, payload, reply));
  }

  #enqueue(msg: MessageOut): void {
    if (!this.#open) return;
    this.#outbox.push(msg);
    this.#schedulePump();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || !this.#writable || !this.#open) return;
    this.#pumpScheduled = true;
    this.#schedule(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    let burst = false;
    try {
      while (this.#open && this.#writable) {
        const msg = this.#outbox.pop();
        if (msg === undefined) break;
        if (msg.number === 0) {
          msg.number = ++this.#lastRequestNumber;
          this.#inbox.requestSent(msg.number, msg instanceof RequestOut ? msg.reply : undefined);
        }
        const next = this.#outbox.peek();
        const maxSize = msg.urgent || next === undefined || !next.urgent ? BIG_FRAME_SIZE : DEFAULT_FRAME_SIZE;
        let built: { frame: Uint8Array; more: boolean };
        try {
          built = msg.nextFrame(this.#output, maxSize);
        } catch (err) {
          this.#fail(new BlipError('invalid-message', `encoding a frame failed: ${String(err)}`, { cause: err }));
          return;
        }
        const { frame, more } = built;
        const key = msg.isResponse ? -msg.number : msg.number;
        if (more) {
          this.#inFlight.set(key, msg);
          if (msg.needsAck) {
            msg.frozen = true;
            this.#paused++;
          } else {
            this.#outbox.push(msg);
          }
        } else if (!msg.isAck) {
          this.#inFlight.delete(key);
        }
        this.#framesSent++;
        this.#bytesSent += frame.length;
        if (!burst) {
          burst = true;
          this.#options.beginBurst?.();
        }
        let accepted: boolean | void;
        try {
          accepted = this.#options.send(frame);
        } catch (err) {
          this.#fail(new BlipError('transport', `sending a frame failed: ${String(err)}`, { cause: err }));
          return;
        }
        if (accepted === false) this.#writable = false;
      }
    } finally {
      this.#pumping = false;
      if (burst) {
        this.#options.endBurst?.();
        this.#armIdleRelease();
      }
    }
  }

  /**
   * Once nothing has been sent or received for a while, the deflater's and inflater's memory goes back
   * (each restarts from its kept window).
   */
  #armIdleRelease(): void {
    if (!this.#output.holdsDeflater && !this.#inbox.codec.holdsInflater) return;
    if (this.#idleTimer) {
      this.#idleTimer.refresh();
      return;
    }
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (!this.#open) return;
      // Frames are decoded whole as they arrive: the inflater holds nothing between them.
      this.#inbox.codec.release();
      if (this.#outbox.isEmpty && this.#paused === 0) this.#output.release();
      else this.#armIdleRelease();
    }, this.#idleReleaseMs);
    this.#idleTimer.unref();
  }

  // ---- incoming ----

  #ackReceived(ofReply: boolean, number: number, byteCount: number): void {
    const msg = this.#inFlight.get(ofReply ? -number : number);
    if (msg === undefined) return;
    msg.receivedAck(byteCount);
    if (msg.frozen && !msg.needsAck) {
      msg.frozen = false;
      this.#paused--;
      this.#enqueue(msg);
    }
  }

  #dispatchRequest(message: IncomingMessage): void {
    const request = new IncomingRequest(
      message.number,
      message.flags,
      message.properties,
      message.body,
      (reply) => this.#enqueue(reply),
      this.#compress,
    );
    const handler = this.#options.onRequest;
    if (handler === undefined) {
      request.respondWithError({ code: 404, message: 'no handler for message' });
      return;
    }
    try {
      const result: unknown = handler(request);
      if (result instanceof Promise) result.then(undefined, (err: unknown) => this.#handlerFailed(err, request));
    } catch (err) {
      this.#handlerFailed(err, request);
    }
  }

  #handlerFailed(error: unknown, request: IncomingRequest): void {
    try {
      this.#options.onHandlerError?.(error, request);
    } catch {
      // A failing error hook must not take the connection down.
    }
    if (!request.responded && this.#open) request.respondWithError({ code: 501, message: 'unexpected exception' });
  }

  // ---- closing ----

  #fail(error: BlipError): void {
    if (!this.#open) return;
    const code = error.code === 'limit-exceeded' ? CLOSE_TOO_BIG : error.code === 'transport' ? CLOSE_INTERNAL : CLOSE_PROTOCOL_ERROR;
    this.#shutdown({ code, reason: error.message, error, initiator: 'local' });
    this.#closeTransport(code, error.message);
  }

  #closeTransport(code: number, reason: string): void {
    try {
      this.#options.closeTransport?.(code, truncateReason(reason));
    } catch {
      // The socket is being abandoned either way.
    }
  }

  #shutdown(event: BlipCloseEvent): void {
    this.#open = false;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#output.release();
    this.#inbox.codec.release();
    const closed = new BlipError(
      'closed',
      event.error ? `the BLIP connection failed: ${event.error.message}` : `the BLIP connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`,
      event.error ? { cause: event.error } : undefined,
    );
    const waiting = this.#inbox.clear();
    for (const msg of this.#outbox.drain()) if (msg instanceof RequestOut && msg.number === 0 && msg.reply) waiting.push(msg.reply);
    this.#inFlight.clear();
    this.#paused = 0;
    for (const reply of waiting) reply.reject(closed);
    try {
      this.#options.onClose?.(event);
    } catch {
      // The close is complete; a failing listener changes nothing.
    }
  }
}

function withProfile(request: OutgoingRequest): PropertiesInit | undefined {
  if (request.profile === undefined) return request.properties;
  const entries: [string, string | number | boolean][] = [[PROFILE_PROPERTY, request.profile]];
  const props = request.properties;
  if (props !== undefined) {
    const list = Symbol.iterator in props ? [...(props as Iterable<readonly [string, string | number | boolean]>)] : Object.entries(props);
    for (const [key, value] of list) if (value !== undefined && key !== PROFILE_PROPERTY) entries.push([key, value]);
  }
  return entries;
}

/** WebSocket close reasons are limited to 123 bytes of UTF-8. */
function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let out = reason.slice(0, 120);
  while (Buffer.byteLength(out) > 120) out = out.slice(0, -1);
  return `${out}...`;
}
