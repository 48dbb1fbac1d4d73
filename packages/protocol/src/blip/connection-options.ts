import type { BlipError } from './errors.ts';
import type { IncomingRequest } from './incoming-request.ts';
import type { OutgoingMessage } from './message.ts';

export interface BlipConnectionOptions {
  /** Writes one frame (one binary WebSocket message). Return false when the transport is full; call `resumeWriting()` once it drains. */
  send(frame: Uint8Array): boolean | void;
  /** Receives each complete incoming request. */
  onRequest?(request: IncomingRequest): void | Promise<void>;
  /** Called once when the connection closes, whoever closed it. */
  onClose?(event: BlipCloseEvent): void;
  /** Asks the transport to close its socket. */
  closeTransport?(code: number, reason: string): void;
  /** Told when a request handler throws or rejects (the peer then gets BLIP 501). */
  onHandlerError?(error: unknown, request: IncomingRequest): void;
  /** Set false to send every message uncompressed whatever it asks. Default true. */
  compress?: boolean;
  /** zlib level for compressed frames, 1 (fastest) to 9. Default 6, zlib's default. */
  compressionLevel?: number;
  /**
   * Milliseconds without sending (receiving) after which the deflater's (inflater's) state is freed until the
   * next compressed frame. Default 0.5 s: glibc keeps freed zlib state resident, so the memory a server holds
   * is that of the codecs alive at once, and a short delay lets connections reuse it; a restart costs about
   * 40 us per direction.
   */
  idleReleaseMs?: number;
  /**
   * Called around each burst of frames the pump writes in one go, so the transport can gather them
   * into one socket write (e.g. `socket.cork()` / `socket.uncork()`).
   */
  beginBurst?(): void;
  endBurst?(): void;
  /** Largest incoming frame accepted. Default 1 MiB (LiteCore and go-blip send at most 16 KiB). */
  maxFrameBytes?: number;
  /** Largest incoming message body accepted. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Most bytes held at once for incoming messages not yet complete. Default 128 MiB. */
  maxPendingBytes?: number;
  /** Most incoming requests in progress (begun, not complete) at once. Default 1,000. */
  maxPendingRequests?: number;
  /** Runs the output pump later; default `queueMicrotask`. Tests pass a manual queue. */
  schedule?(task: () => void): void;
}

export interface BlipCloseEvent {
  code: number;
  reason: string;
  /** Set when the connection failed (malformed input, limit, transport error). */
  error?: BlipError;
  /** Who ended it: this side (close() or a failure) or the transport/peer. */
  initiator: 'local' | 'remote';
}

/** A request to send; `profile` becomes the `Profile` property. */
export interface OutgoingRequest extends OutgoingMessage {
  profile?: string;
}

export interface BlipConnectionStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Bytes held for incoming messages not yet complete. */
  pendingIncomingBytes: number;
  /** Incoming requests begun but not complete. */
  pendingIncomingRequests: number;
  /** Requests sent whose reply has not arrived. */
  awaitingReplies: number;
  /** Messages queued to send (not counting paused ones). */
  queuedMessages: number;
  /** Messages paused until the peer acknowledges bytes. */
  pausedMessages: number;
  /** Whether the compressor's state is allocated (it is freed after `idleReleaseMs` without sending). */
  holdsDeflater: boolean;
  /** Whether the decompressor's state is allocated (it is freed after `idleReleaseMs` without traffic). */
  holdsInflater: boolean;
}

export const DEFAULT_IDLE_RELEASE_MS = 500;
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_PENDING_BYTES = 128 * 1024 * 1024;
export const DEFAULT_MAX_PENDING_REQUESTS = 1000;
