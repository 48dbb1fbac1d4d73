import { BlipError } from './errors.ts';
import * as huffman from './huffman.ts';
import { END_OF_BLOCK, MAX_BITS, reverseBits } from './huffman.ts';

// Module-local references: hot loops then read the tables without going through import bindings.
const CODE_LENGTH_ORDER = huffman.CODE_LENGTH_ORDER;
const DIST_BASE = huffman.DIST_BASE;
const DIST_EXTRA = huffman.DIST_EXTRA;
const FIXED_DIST_LENGTHS = huffman.FIXED_DIST_LENGTHS;
const FIXED_LITLEN_LENGTHS = huffman.FIXED_LITLEN_LENGTHS;
const LENGTH_BASE = huffman.LENGTH_BASE;
const LENGTH_EXTRA = huffman.LENGTH_EXTRA;

/**
 * Raw deflate (RFC 1951) decoder for one direction of a BLIP connection.
 *
 * BLIP compresses the frames of one direction as a single deflate stream: each compressed frame is
 * the output of a sync flush with its trailing `00 00 FF FF` removed, so it holds complete blocks and
 * may refer back up to 32 KiB into the data of earlier frames. The decoder keeps that history between
 * calls and decodes one frame per call, synchronously. A frame that does not end on a block boundary,
 * a final block, or any invalid code is a `bad-deflate` error; output beyond the caller's bound is a
 * `limit-exceeded` error, checked before the bytes are written.
 */

const WINDOW = 32 * 1024;
const INITIAL_HISTORY = 3 * WINDOW;
/** A history buffer grown past this for one huge frame is given back afterwards. */
const SHRINK_ABOVE = 1024 * 1024 + WINDOW;
/** Zero bytes after the input, so that the bit reader may look a few bytes ahead without bounds checks. */
const PADDING = 16;
const INITIAL_INPUT = 16 * 1024 + 64;
const SYNC_TRAILER = Uint8Array.of(0x00, 0x00, 0xff, 0xff);

// Decoding tables: entry = symbol << 4 | code length; 0 marks a bit pattern that is no valid code.
const fixedLitTable = new Uint16Array(1 << 9);
const fixedDistTable = new Uint16Array(1 << 5);
const litTable = new Uint16Array(1 << MAX_BITS);
const distTable = new Uint16Array(1 << MAX_BITS);
const codeLenTable = new Uint16Array(1 << 7);
const codeLengths = new Uint8Array(19);
const lengths = new Uint8Array(286 + 30);
const counts = new Uint16Array(MAX_BITS + 1);
const offsets = new Uint16Array(MAX_BITS + 2);

const FIXED_LIT_BITS = buildTable(FIXED_LITLEN_LENGTHS, 0, 288, fixedLitTable, true);
const FIXED_DIST_BITS = buildTable(FIXED_DIST_LENGTHS, 0, 32, fixedDistTable, true);

function corrupt(message: string): BlipError {
  return new BlipError('bad-deflate', `invalid deflate data: ${message}`);
}

/**
 * Fills `table` for the code whose lengths are `lens[start..start+n)`; returns the table's index width
 * (the longest code length). Like zlib, rejects over-subscribed codes and incomplete ones, except for a
 * single code of length one in a literal/length or distance code.
 */
function buildTable(lens: Uint8Array, start: number, n: number, table: Uint16Array, allowSingle: boolean): number {
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[lens[start + i]!]!++;
  counts[0] = 0;
  let maxLen = MAX_BITS;
  while (maxLen > 0 && counts[maxLen] === 0) maxLen--;
  if (maxLen === 0) {
    // No codes at all: legal (e.g. a block without distances) as long as nothing is decoded with it.
    table.fill(0, 0, 2);
    return 1;
  }
  let left = 1;
  for (let len = 1; len <= MAX_BITS; len++) {
    left = (left << 1) - counts[len]!;
    if (left < 0) throw corrupt('over-subscribed code');
  }
  if (left > 0 && !(allowSingle && maxLen === 1)) throw corrupt('incomplete code');
  const size = 1 << maxLen;
  table.fill(0, 0, size);
  offsets[1] = 0;
  let code = 0;
  for (let len = 1; len <= MAX_BITS; len++) {
    code = (code + counts[len - 1]!) << 1;
    offsets[len] = code;
  }
  for (let sym = 0; sym < n; sym++) {
    const len = lens[start + sym]!;
    if (len === 0) continue;
    const reversed = reverseBits(offsets[len]!++, len);
    const entry = (sym << 4) | len;
    for (let j = reversed; j < size; j += 1 << len) table[j] = entry;
  }
  return maxLen;
}

export class RawInflater {
  /** Previous output (at least the last 32 KiB, when there is that much) followed by the frame being decoded. */
  #hist = new Uint8Array(INITIAL_HISTORY);
  #end = 0;
  #input = new Uint8Array(INITIAL_INPUT);

  /**
   * Decodes one compressed frame body (without its 4-byte trailer) and returns a new buffer with the
   * data. Throws BlipError `bad-deflate` or, if more than `maxOutput` bytes would come out, `limit-exceeded`.
   * After an error the stream state is undefined and the decoder must not be used again.
   */
  inflate(frame: Uint8Array, maxOutput: number): Buffer {
    // An empty compressed frame carries no deflate data at all (go-blip skips the trailer for it too).
    if (frame.length === 0) return Buffer.alloc(0);
    const totalBytes = frame.length + SYNC_TRAILER.length;
    if (this.#input.length < totalBytes + PADDING) this.#input = new Uint8Array(totalBytes + PADDING + 1024);
    const src = this.#input;
    src.set(frame, 0);
    src.set(SYNC_TRAILER, frame.length);
    src.fill(0, totalBytes, totalBytes + PADDING);
    const totalBits = totalBytes * 8;

    let hist = this.#hist;
    let o = this.#end;
    let outStart = o;
    let pos = 0;

    // Makes room for `need` more output bytes; may move the history, so callers reload hist/o/outStart.
    const reserve = (need: number): void => {
      if (o - outStart + need > maxOutput) {
        throw new BlipError('limit-exceeded', `inflated frame exceeds ${maxOutput} bytes`);
      }
      if (o + need <= hist.length) return;
      // Keep the last WINDOW bytes before this frame's output, and the output so far.
      const keepFrom = Math.max(0, outStart - WINDOW);
      const kept = o - keepFrom;
      if (kept + need > hist.length) {
        let size = hist.length * 2;
        while (size < kept + need) size *= 2;
        const grown = new Uint8Array(Math.min(size, WINDOW + maxOutput));
        grown.set(hist.subarray(keepFrom, o), 0);
        hist = grown;
      } else {
        hist.copyWithin(0, keepFrom, o);
      }
      o -= keepFrom;
      outStart -= keepFrom;
    };

    while (pos < totalBits) {
      const header = bits(src, pos, 7);
      pos += 3;
      if (header & 1) throw corrupt('final block in a BLIP stream');
      const type = header >> 1;
      if (type === 0) {
        // Stored block: skip to the byte boundary, then LEN and its complement.
        const at = (pos + 7) >>> 3;
        if (at + 4 > totalBytes) throw corrupt('truncated stored block');
        const len = src[at]! | (src[at + 1]! << 8);
        const nlen = src[at + 2]! | (src[at + 3]! << 8);
        if (len !== (~nlen & 0xffff)) throw corrupt('stored block length check failed');
        if (at + 4 + len > totalBytes) throw corrupt('truncated stored block');
        if (o + len > hist.length || o - outStart + len > maxOutput) reserve(len);
        hist.set(src.subarray(at + 4, at + 4 + len), o);
        o += len;
        pos = (at + 4 + len) * 8;
        continue;
      }
      let lt: Uint16Array;
      let dt: Uint16Array;
      let lmask: number;
      let dmask: number;
      if (type === 1) {
        lt = fixedLitTable;
        dt = fixedDistTable;
        lmask = (1 << FIXED_LIT_BITS) - 1;
        dmask = (1 << FIXED_DIST_BITS) - 1;
      } else if (type === 2) {
        const hlit = bits(src, pos, 31) + 257;
        const hdist = bits(src, pos + 5, 31) + 1;
        const hclen = bits(src, pos + 10, 15) + 4;
        pos += 14;
        if (hlit > 286 || hdist > 30) throw corrupt('too many length or distance symbols');
        codeLengths.fill(0);
        for (let i = 0; i < hclen; i++) {
          codeLengths[CODE_LENGTH_ORDER[i]!] = bits(src, pos, 7);
          pos += 3;
        }
        const clBits = buildTable(codeLengths, 0, 19, codeLenTable, false);
        const clMask = (1 << clBits) - 1;
        const total = hlit + hdist;
        for (let i = 0; i < total; ) {
          const entry = codeLenTable[bits(src, pos, clMask)]!;
          const len = entry & 15;
          if (len === 0) throw corrupt('invalid code-length code');
          pos += len;
          const sym = entry >> 4;
          if (sym < 16) {
            lengths[i++] = sym;
          } else {
            let value = 0;
            let repeat: number;
            if (sym === 16) {
              if (i === 0) throw corrupt('repeat with no previous length');
              value = lengths[i - 1]!;
              repeat = 3 + bits(src, pos, 3);
              pos += 2;
            } else if (sym === 17) {
              repeat = 3 + bits(src, pos, 7);
              pos += 3;
            } else {
              repeat = 11 + bits(src, pos, 127);
              pos += 7;
            }
            if (i + repeat > total) throw corrupt('too many code lengths');
            lengths.fill(value, i, i + repeat);
            i += repeat;
          }
          if (pos > totalBits) throw corrupt('truncated block header');
        }
        if (lengths[END_OF_BLOCK] === 0) throw corrupt('missing end-of-block code');
        lmask = (1 << buildTable(lengths, 0, hlit, litTable, true)) - 1;
        dmask = (1 << buildTable(lengths, hlit, hdist, distTable, true)) - 1;
        lt = litTable;
        dt = distTable;
      } else {
        throw corrupt('invalid block type');
      }

      for (;;) {
        const entry = lt[bits(src, pos, lmask)]!;
        const clen = entry & 15;
        if (clen === 0) throw corrupt('invalid literal/length code');
        pos += clen;
        const sym = entry >> 4;
        if (sym < 256) {
          if (o >= hist.length || o - outStart >= maxOutput) reserve(1);
          hist[o++] = sym;
        } else if (sym === END_OF_BLOCK) {
          break;
        } else {
          const li = sym - 257;
          if (li >= 29) throw corrupt('invalid length symbol');
          let len = LENGTH_BASE[li]!;
          const lx = LENGTH_EXTRA[li]!;
          if (lx > 0) {
            len += bits(src, pos, (1 << lx) - 1);
            pos += lx;
          }
          const dentry = dt[bits(src, pos, dmask)]!;
          const dlen = dentry & 15;
          if (dlen === 0) throw corrupt('invalid distance code');
          pos += dlen;
          const dsym = dentry >> 4;
          if (dsym >= 30) throw corrupt('invalid distance symbol');
          let dist = DIST_BASE[dsym]!;
          const dx = DIST_EXTRA[dsym]!;
          if (dx > 0) {
            dist += bits(src, pos, (1 << dx) - 1);
            pos += dx;
          }
          if (dist > o) throw corrupt('distance too far back');
          if (o + len > hist.length || o - outStart + len > maxOutput) reserve(len);
          let from = o - dist;
          const stop = o + len;
          while (o < stop) hist[o++] = hist[from++]!;
        }
        if (pos > totalBits) throw corrupt('truncated block');
      }
      if (pos > totalBits) throw corrupt('truncated block');
    }

    const n = o - outStart;
    const out = Buffer.allocUnsafe(n);
    out.set(hist.subarray(outStart, o), 0);
    if (hist.length > SHRINK_ABOVE) {
      const keep = Math.min(o, WINDOW);
      const small = new Uint8Array(INITIAL_HISTORY);
      small.set(hist.subarray(o - keep, o), 0);
      hist = small;
      o = keep;
    }
    this.#hist = hist;
    this.#end = o;
    return out;
  }
}

/** Up to 24 bits of the stream starting at bit `pos`, masked with `mask` (least significant bit first). */
function bits(src: Uint8Array, pos: number, mask: number): number {
  const at = pos >>> 3;
  return ((src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24)) >>> (pos & 7)) & mask;
}
