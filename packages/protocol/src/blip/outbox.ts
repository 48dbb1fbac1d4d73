import { CHECKSUM_BYTES, FrameFlag, MAX_UNACKED_BYTES, MessageType } from './constants.ts';
import { maxDeflatedSize } from './codec.ts';
import type { OutputCodec } from './codec.ts';
import { encodeFrame, frameHeaderLength, isAckType } from './frame.ts';

/**
 * An outgoing message being cut into frames, with the byte counts flow control needs (LiteCore's
 * `MessageOut`). Counts are of transmitted bytes after the frame header: the (compressed) body and the
 * checksum, which is also what the receiver counts in its ACKs.
 */
export class MessageOut {
  /** Type and Urgent / NoReply / Compressed flags (never MoreComing). */
  readonly flags: number;
  /** 0 for a request until the connection numbers it, just before its first frame. */
  number: number;
  readonly #payload: Uint8Array;
  #offset = 0;
  /** Transmitted bytes so far. */
  bytesSent = 0;
  /** Transmitted bytes not yet acknowledged by the peer. */
  unackedBytes = 0;
  /** True while paused, waiting for an ACK. */
  frozen = false;

  constructor(flags: number, number: number, payload: Uint8Array) {
    this.flags = flags & ~FrameFlag.moreComing;
    this.number = number;
    this.#payload = payload;
  }

  get type(): number {
    return this.flags & FrameFlag.typeMask;
  }
  get urgent(): boolean {
    return (this.flags & FrameFlag.urgent) !== 0;
  }
  get isAck(): boolean {
    return isAckType(this.type);
  }
  /** Replies and errors share the reply number space; so do their ACKs. */
  get isResponse(): boolean {
    const type = this.type;
    return type === MessageType.response || type === MessageType.error;
  }
  get payloadLength(): number {
    return this.#payload.length;
  }
  /** True when the message's unacknowledged bytes reach the pause threshold. */
  get needsAck(): boolean {
    return this.unackedBytes >= MAX_UNACKED_BYTES;
  }

  /**
   * Builds the next frame, at most `maxSize` bytes long header included. Returns the frame; `more`
   * tells whether frames remain.
   */
  nextFrame(codec: OutputCodec, maxSize: number): { frame: Uint8Array; more: boolean } {
    const payload = this.#payload;
    if (this.isAck) {
      this.#offset = payload.length;
      const frame = encodeFrame(this.number, this.flags, payload);
      this.bytesSent += payload.length;
      return { frame, more: false };
    }
    const headerLength = frameHeaderLength(this.number, this.flags | FrameFlag.moreComing);
    const capacity = maxSize - headerLength - CHECKSUM_BYTES;
    const compress = (this.flags & FrameFlag.compressed) !== 0;
    let n = Math.min(payload.length - this.#offset, capacity);
    // Leave room for deflate's worst case (stored blocks), so a compressed frame never exceeds maxSize.
    if (compress) while (n > 1 && maxDeflatedSize(n) > capacity) n--;
    const more = this.#offset + n < payload.length;
    const flags = more ? this.flags | FrameFlag.moreComing : this.flags;
    const frame = codec.encode(this.number, flags, payload.subarray(this.#offset, this.#offset + n), compress);
    this.#offset += n;
    const transmitted = frame.length - headerLength;
    this.bytesSent += transmitted;
    this.unackedBytes += transmitted;
    return { frame, more };
  }

  /**
   * Applies an ACK saying the peer has received `byteCount` bytes. As in LiteCore's
   * `MessageOut::receivedAck`, an older (smaller) count never raises the unacknowledged total. A count
   * above what was sent, which LiteCore ignores, counts here as acknowledging everything: go-blip counts
   * inflated bytes, and ignoring its ACKs would leave a compressed message paused for good.
   */
  receivedAck(byteCount: number): void {
    this.unackedBytes = Math.min(this.unackedBytes, Math.max(0, this.bytesSent - byteCount));
  }
}

/**
 * The queue of messages with frames to send; each takes a turn sending one frame. Normal messages go
 * to the back (round robin). Urgent ones are placed as LiteCore's `BLIPIO::requeue` does: after the
 * last urgent message, but leaving one normal message after it so normal ones are never starved; and a
 * message that has not sent anything yet never overtakes another unsent message, so messages begin in
 * number order.
 */
export class Outbox {
  #items: MessageOut[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }
  get isEmpty(): boolean {
    return this.#items.length === this.#head;
  }
  /** The message that will send next, if any. */
  peek(): MessageOut | undefined {
    return this.#items[this.#head];
  }
  pop(): MessageOut | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const msg = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as unknown as MessageOut;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return msg;
  }

  push(msg: MessageOut): void {
    const items = this.#items;
    if (!msg.urgent || this.length <= 1) {
      items.push(msg);
      return;
    }
    const isNew = msg.bytesSent === 0;
    let i = items.length;
    do {
      i--;
      const other = items[i]!;
      if (other.urgent) {
        if (i + 1 !== items.length) i++;
        break;
      } else if (isNew && other.bytesSent === 0) {
        break;
      }
    } while (i !== this.#head);
    items.splice(i + 1, 0, msg);
  }

  /** Removes and returns every queued message. */
  drain(): MessageOut[] {
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return rest;
  }

  /** The queued messages in order, for inspection. */
  toArray(): MessageOut[] {
    return this.#items.slice(this.#head);
  }
}
