import { CHECKSUM_BYTES, FrameFlag, KNOWN_FLAGS, MessageType } from './constants.ts';
import { BlipError } from './errors.ts';
import { readUVarint, uvarintLength, writeUVarint } from './varint.ts';
import type { Cursor } from './varint.ts';

/**
 * BLIP frame layout: varint message number, varint flags, body, and (except on ACK frames) a 4-byte
 * big-endian CRC32. LiteCore writes the flags as one byte; they are read as a varint, as the spec says.
 */

/** A frame split into its parts; `body` is a view into the frame, compressed if the flag says so. */
export interface Frame {
  number: number;
  /** All flag bits, undefined ones removed. */
  flags: number;
  type: number;
  body: Uint8Array;
  /** The trailing CRC32; undefined on ACK frames. */
  checksum: number | undefined;
}

export function isAckType(type: number): boolean {
  return type === MessageType.ackRequest || type === MessageType.ackResponse;
}

/** Length of the header for this message number and flags. */
export function frameHeaderLength(number: number, flags: number): number {
  return uvarintLength(number) + uvarintLength(flags);
}

/** Writes the header at offset 0; returns its length. */
export function writeFrameHeader(frame: Uint8Array, number: number, flags: number): number {
  return writeUVarint(frame, writeUVarint(frame, 0, number), flags);
}

/** Writes `checksum` big-endian at `offset`. */
export function writeChecksum(frame: Uint8Array, offset: number, checksum: number): void {
  frame[offset] = checksum >>> 24;
  frame[offset + 1] = (checksum >>> 16) & 0xff;
  frame[offset + 2] = (checksum >>> 8) & 0xff;
  frame[offset + 3] = checksum & 0xff;
}

/** Builds a whole frame; `checksum` is required for every type except ACKs, which have none. */
export function encodeFrame(number: number, flags: number, body: Uint8Array, checksum?: number): Uint8Array {
  const ack = isAckType(flags & FrameFlag.typeMask);
  if (!ack && checksum === undefined) throw new RangeError('a non-ACK frame needs a checksum');
  const headerLength = frameHeaderLength(number, flags);
  const frame = new Uint8Array(headerLength + body.length + (ack ? 0 : CHECKSUM_BYTES));
  writeFrameHeader(frame, number, flags);
  frame.set(body, headerLength);
  if (!ack) writeChecksum(frame, headerLength + body.length, checksum!);
  return frame;
}

const cursor: Cursor = { pos: 0 };

/**
 * Splits a frame into header, body and checksum. Throws BlipError `bad-varint` for a truncated or
 * oversized header varint and `bad-frame` for a non-ACK frame too short to hold its checksum.
 */
export function decodeFrame(frame: Uint8Array): Frame {
  cursor.pos = 0;
  if (frame.length === 0) throw new BlipError('bad-frame', 'empty frame');
  const number = readUVarint(frame, cursor);
  const rawFlags = readUVarint(frame, cursor);
  const headerLength = cursor.pos;
  // Flag bits above the known ones are ignored, as the spec says; LiteCore truncates flags to a byte.
  const flags = (rawFlags % 0x100) & KNOWN_FLAGS;
  const type = flags & FrameFlag.typeMask;
  if (isAckType(type)) {
    return { number, flags, type, body: frame.subarray(headerLength), checksum: undefined };
  }
  const end = frame.length - CHECKSUM_BYTES;
  if (end < headerLength) throw new BlipError('bad-frame', 'frame ends before its checksum');
  const checksum = ((frame[end]! << 24) | (frame[end + 1]! << 16) | (frame[end + 2]! << 8) | frame[end + 3]!) >>> 0;
  return { number, flags, type, body: frame.subarray(headerLength, end), checksum };
}
