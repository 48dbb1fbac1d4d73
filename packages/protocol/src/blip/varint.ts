import { BlipError } from './errors.ts';

/**
 * Unsigned LEB128 varints, as BLIP uses for message numbers, flags, property lengths and ACK counts.
 *
 * Decoding follows Fleece's `GetUVarInt` (which LiteCore uses) and Go's `binary.Uvarint` (which go-blip
 * uses): at most ten bytes, and a tenth byte above 1 overflows 64 bits and is rejected. Both of them
 * accept non-minimal encodings such as `80 00` for zero, and so does this decoder: a peer that pads a
 * varint is still speaking valid BLIP to them. JavaScript numbers hold integers exactly only up to
 * 2^53 - 1, so `readUVarint` also rejects larger values; `readUVarint64` returns the full range.
 */

/** The longest encoding of a 64-bit value. */
export const MAX_VARINT_BYTES = 10;

/** A read position, advanced by the readers. */
export interface Cursor {
  pos: number;
}

/** Number of bytes `value` takes once encoded. */
export function uvarintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Writes `value` (a safe non-negative integer) at `offset`; returns the offset just after it. */
export function writeUVarint(buf: Uint8Array, offset: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a varint value: ${value}`);
  while (value > 0x7fffffff) {
    buf[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[offset++] = value;
  return offset;
}

/** Encodes a number, or a bigint up to 2^64 - 1. */
export function encodeUVarint(value: number | bigint): Uint8Array {
  if (typeof value === 'number') {
    const out = new Uint8Array(uvarintLength(value));
    writeUVarint(out, 0, value);
    return out;
  }
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`not a 64-bit varint value: ${value}`);
  const bytes: number[] = [];
  while (value >= 0x80n) {
    bytes.push(Number(value & 0x7fn) | 0x80);
    value >>= 7n;
  }
  bytes.push(Number(value));
  return Uint8Array.from(bytes);
}

/**
 * Reads a varint at `cursor.pos` (stopping at `end`) and advances the cursor. Throws a BlipError
 * `bad-varint` if it is truncated, overflows 64 bits, or exceeds Number.MAX_SAFE_INTEGER.
 */
export function readUVarint(buf: Uint8Array, cursor: Cursor, end: number = buf.length): number {
  let pos = cursor.pos;
  // Fast path: up to four bytes fit a 28-bit value computed with bit operations.
  let result = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) throw new BlipError('bad-varint', 'varint is truncated');
    const byte = buf[pos++]!;
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      cursor.pos = pos;
      return result;
    }
  }
  let scale = 2 ** 28;
  for (let count = 5; ; count++) {
    if (pos >= end) throw new BlipError('bad-varint', 'varint is truncated');
    const byte = buf[pos++]!;
    // A tenth byte holds bit 63 only; anything larger (or a continuation) overflows 64 bits.
    if (count === MAX_VARINT_BYTES && byte > 1) throw new BlipError('bad-varint', 'varint overflows 64 bits');
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 128;
  }
  if (result > Number.MAX_SAFE_INTEGER) throw new BlipError('bad-varint', 'varint exceeds 2^53 - 1');
  cursor.pos = pos;
  return result;
}

/** Like readUVarint, for the full unsigned 64-bit range. */
export function readUVarint64(buf: Uint8Array, cursor: Cursor, end: number = buf.length): bigint {
  let pos = cursor.pos;
  let result = 0n;
  for (let count = 1; ; count++) {
    if (pos >= end) throw new BlipError('bad-varint', 'varint is truncated');
    const byte = buf[pos++]!;
    if (count === MAX_VARINT_BYTES && byte > 1) throw new BlipError('bad-varint', 'varint overflows 64 bits');
    result |= BigInt(byte & 0x7f) << BigInt(7 * (count - 1));
    if (byte < 0x80) break;
  }
  cursor.pos = pos;
  return result;
}
