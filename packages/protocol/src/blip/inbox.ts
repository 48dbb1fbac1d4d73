import { FrameFlag, INCOMING_ACK_THRESHOLD, MAX_PROPERTIES_BYTES, MESSAGE_TYPE_NAMES, MessageType } from './constants.ts';
import { InputCodec } from './codec.ts';
import { BlipError } from './errors.ts';
import { decodeFrame } from './frame.ts';
import type { Frame } from './frame.ts';
import { MessageAssembler } from './message.ts';
import type { IncomingMessage } from './message.ts';
import { readUVarint } from './varint.ts';

/** Someone waiting for the reply to a request. */
export interface PendingReply {
  resolve(reply: IncomingMessage): void;
  reject(error: BlipError): void;
  assembler?: MessageAssembler;
}

export interface InboxLimits {
  maxFrameBytes: number;
  maxMessageBytes: number;
  maxPendingBytes: number;
  maxPendingRequests: number;
}

export interface InboxEvents {
  /** A complete request arrived. */
  request(message: IncomingMessage): void;
  /** The peer acknowledged `byteCount` bytes of our request (or, if `ofReply`, our reply) `number`. */
  ack(ofReply: boolean, number: number, byteCount: number): void;
  /** An ACK of `byteCount` received bytes should go out for the incoming message `number`. */
  sendAck(type: number, number: number, byteCount: number): void;
}

const ackCursor = { pos: 0 };

/**
 * The receiving half of a connection: checks and decodes frames, groups them into messages, decides
 * when to acknowledge, and enforces the memory limits. Throws BlipError on anything fatal.
 */
export class Inbox {
  readonly #limits: InboxLimits;
  readonly #events: InboxEvents;
  readonly #codec = new InputCodec();
  readonly #requests = new Map<number, MessageAssembler>();
  readonly #awaiting = new Map<number, PendingReply>();
  #requestsReceived = 0;
  #lastRequestSent = 0;
  #pendingBytes = 0;

  constructor(limits: InboxLimits, events: InboxEvents) {
    this.#limits = limits;
    this.#events = events;
  }

  /** The input codec, whose inflater the connection frees while idle. */
  get codec(): InputCodec {
    return this.#codec;
  }

  /** Bytes held for incoming messages not yet complete. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }
  /** Incoming requests begun and not complete. */
  get pendingRequests(): number {
    return this.#requests.size;
  }
  /** Requests sent whose reply is awaited. */
  get awaitingReplies(): number {
    return this.#awaiting.size;
  }

  /** Records that request `number` went out; `pending` is told of its reply (omit for no-reply requests). */
  requestSent(number: number, pending: PendingReply | undefined): void {
    this.#lastRequestSent = number;
    if (pending) this.#awaiting.set(number, pending);
  }

  /** Forgets all state; returns whoever was still waiting for a reply. */
  clear(): PendingReply[] {
    const waiting = [...this.#awaiting.values()];
    this.#awaiting.clear();
    this.#requests.clear();
    this.#pendingBytes = 0;
    return waiting;
  }

  receive(data: Uint8Array): void {
    if (data.length > this.#limits.maxFrameBytes) {
      throw new BlipError('limit-exceeded', `frame of ${data.length} bytes exceeds ${this.#limits.maxFrameBytes}`);
    }
    const frame = decodeFrame(data);
    const { type, number } = frame;
    switch (type) {
      case MessageType.ackRequest:
      case MessageType.ackResponse:
        this.#receivedAck(frame);
        return;
      case MessageType.request: {
        let assembler = this.#requests.get(number);
        const isNew = assembler === undefined;
        if (assembler === undefined) {
          if (number !== this.#requestsReceived + 1) {
            const why = number <= this.#requestsReceived ? 'already complete' : 'out of sequence';
            throw new BlipError('bad-frame', `incoming request #${number} is ${why}`);
          }
          this.#requestsReceived = number;
          assembler = this.#newAssembler(number);
        }
        this.#receiveData(frame, assembler, isNew);
        return;
      }
      case MessageType.response:
      case MessageType.error: {
        const pending = this.#awaiting.get(number);
        if (pending === undefined) {
          if (number > this.#lastRequestSent || number === 0) {
            throw new BlipError('bad-frame', `reply #${number} answers no request that was sent`);
          }
          // A reply nobody waits for (to a no-reply request): keep the codec in step, then drop it.
          this.#codec.decode(frame.body, (frame.flags & FrameFlag.compressed) !== 0, frame.checksum!, this.#limits.maxPendingBytes);
          return;
        }
        pending.assembler ??= this.#newAssembler(number);
        this.#receiveData(frame, pending.assembler, false);
        return;
      }
      default:
        throw new BlipError('bad-frame', `unknown message type ${MESSAGE_TYPE_NAMES[type] ?? type}`);
    }
  }

  #newAssembler(number: number): MessageAssembler {
    return new MessageAssembler(number, { maxBodyBytes: this.#limits.maxMessageBytes });
  }

  #receiveData(frame: Frame, assembler: MessageAssembler, isNew: boolean): void {
    const limits = this.#limits;
    const more = (frame.flags & FrameFlag.moreComing) !== 0;
    const isRequest = frame.type === MessageType.request;
    if (isNew && more && this.#requests.size >= limits.maxPendingRequests) {
      throw new BlipError('limit-exceeded', `more than ${limits.maxPendingRequests} incoming requests in progress`);
    }
    const before = assembler.bufferedBytes;
    // Inflated output is bounded before it is written: by the message limit and by the pending-bytes cap.
    const allowance = Math.min(
      limits.maxMessageBytes + MAX_PROPERTIES_BYTES + 8 - before,
      limits.maxPendingBytes - this.#pendingBytes + 1,
    );
    const compressed = (frame.flags & FrameFlag.compressed) !== 0;
    const data = this.#codec.decode(frame.body, compressed, frame.checksum!, Math.max(0, allowance));
    assembler.add(data, frame.flags);
    this.#pendingBytes += assembler.bufferedBytes - before;
    if (this.#pendingBytes > limits.maxPendingBytes) {
      throw new BlipError('limit-exceeded', `incoming messages in progress exceed ${limits.maxPendingBytes} bytes`);
    }
    // Like LiteCore, count what was transmitted after the header: the body as sent plus the checksum.
    const transmitted = frame.body.length + 4;
    assembler.rawBytesReceived += transmitted;
    assembler.unackedBytes += transmitted;

    if (more) {
      if (isNew) this.#requests.set(assembler.number, assembler);
      if (assembler.unackedBytes >= INCOMING_ACK_THRESHOLD) {
        assembler.unackedBytes = 0;
        const ackType = isRequest ? MessageType.ackRequest : MessageType.ackResponse;
        this.#events.sendAck(ackType, assembler.number, assembler.rawBytesReceived);
      }
      return;
    }
    this.#pendingBytes -= assembler.bufferedBytes;
    const message = assembler.finish();
    if (isRequest) {
      this.#requests.delete(assembler.number);
      this.#events.request(message);
    } else {
      const pending = this.#awaiting.get(assembler.number)!;
      this.#awaiting.delete(assembler.number);
      pending.resolve(message);
    }
  }

  #receivedAck(frame: Frame): void {
    let byteCount: number;
    try {
      ackCursor.pos = 0;
      byteCount = readUVarint(frame.body, ackCursor);
    } catch {
      return; // LiteCore and go-blip ignore an ACK whose body does not parse.
    }
    this.#events.ack(frame.type === MessageType.ackResponse, frame.number, byteCount);
  }
}
