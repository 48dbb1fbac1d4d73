import * as huffman from './huffman.ts';
import { buildLengths, canonicalCodes, DIST_CODES, END_OF_BLOCK, LITLEN_CODES, MAX_BITS, MAX_CODE_LENGTH_BITS } from './huffman.ts';

// Module-local references: hot loops then read the tables without going through import bindings.
const CODE_LENGTH_ORDER = huffman.CODE_LENGTH_ORDER;
const DIST_BASE = huffman.DIST_BASE;
const DIST_CODE = huffman.DIST_CODE;
const DIST_EXTRA = huffman.DIST_EXTRA;
const FIXED_DIST_LENGTHS = huffman.FIXED_DIST_LENGTHS;
const FIXED_LITLEN_LENGTHS = huffman.FIXED_LITLEN_LENGTHS;
const LENGTH_BASE = huffman.LENGTH_BASE;
const LENGTH_CODE = huffman.LENGTH_CODE;
const LENGTH_EXTRA = huffman.LENGTH_EXTRA;

/**
 * Raw deflate (RFC 1951) encoder for one direction of a BLIP connection.
 *
 * Each call compresses one frame's data as a continuation of the same stream: matches may refer up to
 * 32 KiB back into earlier frames, which the peer's single inflate context still holds. The output is
 * what zlib produces with Z_SYNC_FLUSH (complete blocks, then an empty stored block) minus the final
 * `00 00 FF FF`, exactly what a BLIP compressed frame carries. Matching follows zlib's level 6 (lazy
 * evaluation, chains of 128); each call emits one block per 16 KiB of input, whichever of stored, fixed
 * or dynamic Huffman is smallest, so the output never exceeds the input by more than a few bytes.
 */

const WSIZE = 32 * 1024;
const WMASK = WSIZE - 1;
const CHUNK = 16 * 1024;
const HASH_BITS = 15;
const HASH_SIZE = 1 << HASH_BITS;
const HASH_MASK = HASH_SIZE - 1;
const MIN_MATCH = 3;
const MAX_MATCH = 258;
// zlib's configuration_table entry for level 6.
const GOOD_LENGTH = 8;
const MAX_LAZY = 16;
const NICE_LENGTH = 128;
const MAX_CHAIN = 128;

/** Upper bound on the output for `n` input bytes: stored blocks cost 5 bytes each plus the flush marker. */
export function maxDeflatedSize(n: number): number {
  return n + 5 * Math.ceil(n / CHUNK) + 2;
}

// Per-block scratch, shared by all deflaters (compression runs synchronously, one block at a time).
const litFreq = new Uint32Array(LITLEN_CODES);
const distFreq = new Uint32Array(DIST_CODES);
const clFreq = new Uint32Array(19);
const litLens = new Uint8Array(LITLEN_CODES);
const distLens = new Uint8Array(DIST_CODES);
const clLens = new Uint8Array(19);
const litCodes = new Uint16Array(288);
const distCodes = new Uint16Array(32);
const clCodes = new Uint16Array(19);
const fixedLitCodes = new Uint16Array(288);
const fixedDistCodes = new Uint16Array(32);
canonicalCodes(FIXED_LITLEN_LENGTHS, 288, fixedLitCodes);
canonicalCodes(FIXED_DIST_LENGTHS, 32, fixedDistCodes);
const allLens = new Uint8Array(LITLEN_CODES + DIST_CODES);
const rleSym = new Uint8Array(LITLEN_CODES + DIST_CODES);
const rleExtra = new Uint8Array(LITLEN_CODES + DIST_CODES);
// Tokens of the current block: a literal byte (dist 0) or a match (length, distance).
const tokLen = new Uint16Array(CHUNK);
const tokDist = new Uint16Array(CHUNK);

export class RawDeflater {
  #win = new Uint8Array(3 * WSIZE);
  #winEnd = 0;
  #head = new Int32Array(HASH_SIZE).fill(-1);
  #prev = new Int32Array(WSIZE).fill(-1);
  #out = new Uint8Array(CHUNK + 256);
  #outPos = 0;
  #bitBuf = 0;
  #bitCount = 0;
  #tokens = 0;

  /**
   * Compresses `input` as the next frame of the stream. Returns a view of an internal buffer, valid until
   * the next call.
   */
  deflate(input: Uint8Array): Uint8Array {
    this.#outPos = 0;
    this.#bitBuf = 0;
    this.#bitCount = 0;
    const bound = maxDeflatedSize(input.length) + 16;
    if (this.#out.length < bound) this.#out = new Uint8Array(bound);
    for (let off = 0; off < input.length; off += CHUNK) {
      const chunk = input.subarray(off, Math.min(input.length, off + CHUNK));
      if (this.#winEnd + chunk.length > this.#win.length) this.#slide();
      const start = this.#winEnd;
      this.#win.set(chunk, start);
      const end = start + chunk.length;
      this.#tokenize(start, end);
      this.#winEnd = end;
      this.#writeBlock(start, end);
    }
    // Sync flush: an empty stored block, whose LEN/NLEN (00 00 FF FF) BLIP leaves out.
    this.#writeBits(0, 3);
    if (this.#bitCount > 0) this.#writeBits(0, 8 - this.#bitCount);
    return this.#out.subarray(0, this.#outPos);
  }

  /** Drops the oldest window data, keeping at least the last 32 KiB; positions move by a multiple of 32 KiB. */
  #slide(): void {
    const delta = Math.floor((this.#winEnd - WSIZE) / WSIZE) * WSIZE;
    this.#win.copyWithin(0, delta, this.#winEnd);
    this.#winEnd -= delta;
    const head = this.#head;
    for (let i = 0; i < HASH_SIZE; i++) {
      const v = head[i]! - delta;
      head[i] = v < 0 ? -1 : v;
    }
    const prev = this.#prev;
    for (let i = 0; i < WSIZE; i++) {
      const v = prev[i]! - delta;
      prev[i] = v < 0 ? -1 : v;
    }
  }

  /** LZ77 with lazy matching over win[start..end); matches may start anywhere in the kept window. */
  #tokenize(start: number, end: number): void {
    const win = this.#win;
    const head = this.#head;
    const prev = this.#prev;
    litFreq.fill(0);
    distFreq.fill(0);
    let n = 0;
    let p = start;
    let havePrev = false;
    let prevLen = MIN_MATCH - 1;
    let prevDist = 0;
    while (p < end) {
      let cand = -1;
      if (p + 2 < end) {
        const h = ((win[p]! << 10) ^ (win[p + 1]! << 5) ^ win[p + 2]!) & HASH_MASK;
        cand = head[h]!;
        prev[p & WMASK] = cand;
        head[h] = p;
      }
      let curLen = MIN_MATCH - 1;
      let curDist = 0;
      if (cand >= 0 && prevLen < MAX_LAZY) {
        const maxLen = Math.min(MAX_MATCH, end - p);
        let best = prevLen;
        if (best < maxLen) {
          const limit = p - WSIZE;
          let chain = prevLen >= GOOD_LENGTH ? MAX_CHAIN >> 2 : MAX_CHAIN;
          while (cand > limit && cand >= 0) {
            if (win[cand + best] === win[p + best] && win[cand] === win[p] && win[cand + 1] === win[p + 1]) {
              let len = 2;
              while (len < maxLen && win[cand + len] === win[p + len]) len++;
              if (len > best) {
                best = len;
                curDist = p - cand;
                if (len >= NICE_LENGTH || len >= maxLen) break;
              }
            }
            if (--chain === 0) break;
            const next = prev[cand & WMASK]!;
            if (next >= cand) break;
            cand = next;
          }
          if (curDist > 0) curLen = best;
        }
      }
      if (prevLen >= MIN_MATCH && curLen <= prevLen) {
        // The match found one position earlier is at least as good: emit it.
        tokLen[n] = prevLen;
        tokDist[n] = prevDist;
        n++;
        litFreq[257 + LENGTH_CODE[prevLen]!]!++;
        distFreq[DIST_CODE[prevDist]!]!++;
        const stop = p - 1 + prevLen;
        for (let q = p + 1; q < stop; q++) {
          if (q + 2 < end) {
            const h = ((win[q]! << 10) ^ (win[q + 1]! << 5) ^ win[q + 2]!) & HASH_MASK;
            prev[q & WMASK] = head[h]!;
            head[h] = q;
          }
        }
        p = stop;
        havePrev = false;
        prevLen = MIN_MATCH - 1;
      } else {
        if (havePrev) {
          const lit = win[p - 1]!;
          tokLen[n] = lit;
          tokDist[n] = 0;
          n++;
          litFreq[lit]!++;
        }
        havePrev = true;
        prevLen = curLen;
        prevDist = curDist;
        p++;
      }
    }
    if (havePrev) {
      const lit = win[p - 1]!;
      tokLen[n] = lit;
      tokDist[n] = 0;
      n++;
      litFreq[lit]!++;
    }
    this.#tokens = n;
  }

  #writeBlock(start: number, end: number): void {
    litFreq[END_OF_BLOCK] = 1;
    buildLengths(litFreq, LITLEN_CODES, MAX_BITS, litLens);
    buildLengths(distFreq, DIST_CODES, MAX_BITS, distLens);
    let hlit = LITLEN_CODES;
    while (hlit > 257 && litLens[hlit - 1] === 0) hlit--;
    let hdist = DIST_CODES;
    while (hdist > 1 && distLens[hdist - 1] === 0) hdist--;
    allLens.set(litLens.subarray(0, hlit), 0);
    allLens.set(distLens.subarray(0, hdist), hlit);
    const rleCount = runLengthEncode(allLens, hlit + hdist);
    buildLengths(clFreq, 19, MAX_CODE_LENGTH_BITS, clLens);
    let hclen = 19;
    while (hclen > 4 && clLens[CODE_LENGTH_ORDER[hclen - 1]!] === 0) hclen--;

    let dynamicBits = 14 + 3 * hclen;
    for (let i = 0; i < rleCount; i++) {
      const sym = rleSym[i]!;
      dynamicBits += clLens[sym]! + (sym === 16 ? 2 : sym === 17 ? 3 : sym === 18 ? 7 : 0);
    }
    let fixedBits = 0;
    for (let s = 0; s < LITLEN_CODES; s++) {
      const f = litFreq[s]!;
      if (f === 0) continue;
      const extra = s > 256 ? LENGTH_EXTRA[s - 257]! : 0;
      dynamicBits += f * (litLens[s]! + extra);
      fixedBits += f * (FIXED_LITLEN_LENGTHS[s]! + extra);
    }
    for (let s = 0; s < DIST_CODES; s++) {
      const f = distFreq[s]!;
      if (f === 0) continue;
      dynamicBits += f * (distLens[s]! + DIST_EXTRA[s]!);
      fixedBits += f * (5 + DIST_EXTRA[s]!);
    }
    const len = end - start;
    const storedBits = 3 + ((8 - ((this.#bitCount + 3) & 7)) & 7) + 32 + 8 * len;
    dynamicBits += 3;
    fixedBits += 3;

    if (storedBits <= fixedBits && storedBits <= dynamicBits) {
      this.#writeBits(0, 3);
      if (this.#bitCount > 0) this.#writeBits(0, 8 - this.#bitCount);
      const out = this.#out;
      let o = this.#outPos;
      out[o++] = len & 0xff;
      out[o++] = len >>> 8;
      out[o++] = ~len & 0xff;
      out[o++] = (~len >>> 8) & 0xff;
      out.set(this.#win.subarray(start, end), o);
      this.#outPos = o + len;
    } else if (fixedBits <= dynamicBits) {
      this.#writeBits(1 << 1, 3);
      this.#writeTokens(fixedLitCodes, FIXED_LITLEN_LENGTHS, fixedDistCodes, FIXED_DIST_LENGTHS);
    } else {
      this.#writeBits(2 << 1, 3);
      this.#writeBits(hlit - 257, 5);
      this.#writeBits(hdist - 1, 5);
      this.#writeBits(hclen - 4, 4);
      for (let i = 0; i < hclen; i++) this.#writeBits(clLens[CODE_LENGTH_ORDER[i]!]!, 3);
      canonicalCodes(clLens, 19, clCodes);
      for (let i = 0; i < rleCount; i++) {
        const sym = rleSym[i]!;
        this.#writeBits(clCodes[sym]!, clLens[sym]!);
        if (sym === 16) this.#writeBits(rleExtra[i]!, 2);
        else if (sym === 17) this.#writeBits(rleExtra[i]!, 3);
        else if (sym === 18) this.#writeBits(rleExtra[i]!, 7);
      }
      canonicalCodes(litLens, LITLEN_CODES, litCodes);
      canonicalCodes(distLens, DIST_CODES, distCodes);
      this.#writeTokens(litCodes, litLens, distCodes, distLens);
    }
  }

  #writeTokens(lc: Uint16Array, ll: Uint8Array, dc: Uint16Array, dl: Uint8Array): void {
    const n = this.#tokens;
    for (let i = 0; i < n; i++) {
      const dist = tokDist[i]!;
      const value = tokLen[i]!;
      if (dist === 0) {
        this.#writeBits(lc[value]!, ll[value]!);
      } else {
        const code = LENGTH_CODE[value]!;
        this.#writeBits(lc[257 + code]!, ll[257 + code]!);
        const lx = LENGTH_EXTRA[code]!;
        if (lx > 0) this.#writeBits(value - LENGTH_BASE[code]!, lx);
        const dcode = DIST_CODE[dist]!;
        this.#writeBits(dc[dcode]!, dl[dcode]!);
        const dx = DIST_EXTRA[dcode]!;
        if (dx > 0) this.#writeBits(dist - DIST_BASE[dcode]!, dx);
      }
    }
    this.#writeBits(lc[END_OF_BLOCK]!, ll[END_OF_BLOCK]!);
  }

  /** Appends the low `count` (at most 16) bits of `value`, least significant first. */
  #writeBits(value: number, count: number): void {
    let buf = this.#bitBuf | (value << this.#bitCount);
    let bitCount = this.#bitCount + count;
    const out = this.#out;
    let o = this.#outPos;
    while (bitCount >= 8) {
      out[o++] = buf & 0xff;
      buf >>>= 8;
      bitCount -= 8;
    }
    this.#outPos = o;
    this.#bitBuf = buf;
    this.#bitCount = bitCount;
  }
}

/** Run-length codes (RFC 1951 symbols 16, 17, 18) for lens[0..n); fills rleSym/rleExtra and clFreq. */
function runLengthEncode(lens: Uint8Array, n: number): number {
  clFreq.fill(0);
  let count = 0;
  const emit = (sym: number, extra: number): void => {
    rleSym[count] = sym;
    rleExtra[count] = extra;
    count++;
    clFreq[sym]!++;
  };
  for (let i = 0; i < n; ) {
    const value = lens[i]!;
    let run = 1;
    while (i + run < n && lens[i + run] === value) run++;
    i += run;
    if (value === 0) {
      while (run >= 11) {
        const k = Math.min(run, 138);
        emit(18, k - 11);
        run -= k;
      }
      if (run >= 3) {
        emit(17, run - 3);
        run = 0;
      }
    } else {
      emit(value, 0);
      run--;
      while (run >= 3) {
        const k = Math.min(run, 6);
        emit(16, k - 3);
        run -= k;
      }
    }
    while (run-- > 0) emit(value, 0);
  }
  return count;
}
