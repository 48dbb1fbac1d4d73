/**
 * Tables and Huffman-code helpers shared by the raw deflate encoder and decoder (RFC 1951).
 */

/** Base length for length codes 257..285. */
export const LENGTH_BASE = Uint16Array.of(
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
);
/** Extra bits for length codes 257..285. */
export const LENGTH_EXTRA = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
/** Base distance for distance codes 0..29. */
export const DIST_BASE = Uint16Array.of(
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577,
);
/** Extra bits for distance codes 0..29. */
export const DIST_EXTRA = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
/** Order in which a dynamic block lists the code-length code's lengths. */
export const CODE_LENGTH_ORDER = Uint8Array.of(16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15);

export const MAX_BITS = 15;
export const MAX_CODE_LENGTH_BITS = 7;
export const END_OF_BLOCK = 256;
export const LITLEN_CODES = 286;
export const DIST_CODES = 30;

/** Code lengths of the fixed literal/length code (288 symbols, of which 286 and 287 are never valid). */
export const FIXED_LITLEN_LENGTHS = new Uint8Array(288);
FIXED_LITLEN_LENGTHS.fill(8, 0, 144);
FIXED_LITLEN_LENGTHS.fill(9, 144, 256);
FIXED_LITLEN_LENGTHS.fill(7, 256, 280);
FIXED_LITLEN_LENGTHS.fill(8, 280, 288);
/** Code lengths of the fixed distance code (32 symbols, of which 30 and 31 are never valid). */
export const FIXED_DIST_LENGTHS = new Uint8Array(32).fill(5);

/** Length 3..258 to its length code index 0..28 (symbol minus 257). */
export const LENGTH_CODE = new Uint8Array(259);
for (let code = 0; code < 29; code++) {
  const first = LENGTH_BASE[code]!;
  const last = code === 28 ? 258 : LENGTH_BASE[code + 1]! - 1;
  for (let len = first; len <= last; len++) LENGTH_CODE[len] = code;
}

/** Distance 1..32768 to its distance code 0..29. */
export const DIST_CODE = new Uint8Array(32769);
for (let code = 0; code < 30; code++) {
  const first = DIST_BASE[code]!;
  const last = code === 29 ? 32768 : DIST_BASE[code + 1]! - 1;
  DIST_CODE.fill(code, first, last + 1);
}

/** Reverses the low `len` bits of `code` (deflate sends Huffman codes most significant bit first). */
export function reverseBits(code: number, len: number): number {
  let out = 0;
  for (let i = 0; i < len; i++) {
    out = (out << 1) | (code & 1);
    code >>>= 1;
  }
  return out;
}

const blCount = new Uint16Array(MAX_BITS + 1);
const nextCode = new Uint16Array(MAX_BITS + 2);

/**
 * Canonical codes for `lengths[0..n)`, written bit-reversed into `codes` so that they can be sent
 * least significant bit first.
 */
export function canonicalCodes(lengths: Uint8Array, n: number, codes: Uint16Array): void {
  blCount.fill(0);
  for (let i = 0; i < n; i++) blCount[lengths[i]!]!++;
  blCount[0] = 0;
  let code = 0;
  for (let bits = 1; bits <= MAX_BITS; bits++) {
    code = (code + blCount[bits - 1]!) << 1;
    nextCode[bits] = code;
  }
  for (let i = 0; i < n; i++) {
    const len = lengths[i]!;
    codes[i] = len === 0 ? 0 : reverseBits(nextCode[len]!++, len);
  }
}

// Scratch space for building codes of at most 288 symbols.
const keys = new Float64Array(288);
const weight = new Float64Array(576);
const parent = new Int32Array(576);
const depth = new Uint16Array(576);
const leafSymbol = new Int32Array(288);
const scaled = new Float64Array(288);
const leafOf = new Int32Array(288);
const leafDepth = new Uint16Array(288);

/**
 * Huffman code lengths for `freq[0..n)`, at most `maxBits` long, written to `lengths`. Always yields a
 * complete code: with fewer than two used symbols it assigns length 1 to two symbols, as zlib does, so
 * that strict decoders accept the code.
 */
export function buildLengths(freq: Uint32Array, n: number, maxBits: number, lengths: Uint8Array): void {
  lengths.fill(0, 0, n);
  let used = 0;
  for (let i = 0; i < n; i++) {
    if (freq[i]! > 0) {
      leafSymbol[used] = i;
      scaled[used] = freq[i]!;
      used++;
    }
  }
  if (used < 2) {
    const only = used === 1 ? leafSymbol[0]! : 0;
    lengths[only] = 1;
    lengths[only === 0 ? 1 : 0] = 1;
    return;
  }
  for (;;) {
    if (huffmanDepths(used, maxBits)) break;
    // Too deep: flatten the distribution and try again (terminates, all-ones gives a balanced tree).
    for (let i = 0; i < used; i++) scaled[i] = Math.floor(scaled[i]! / 2) + 1;
  }
  for (let i = 0; i < used; i++) lengths[leafSymbol[i]!] = depth[i]!;
}

/** Builds a Huffman tree over scaled[0..m); stores leaf depths in depth[0..m); false if any exceeds maxBits. */
function huffmanDepths(m: number, maxBits: number): boolean {
  // Sort leaves by weight, ties by leaf index, using packed numeric keys.
  for (let i = 0; i < m; i++) keys[i] = scaled[i]! * 512 + i;
  const sorted = keys.subarray(0, m).sort();
  // Nodes 0..m-1 are leaves in sorted order; m..2m-2 are internal nodes, created in weight order.
  for (let k = 0; k < m; k++) {
    const leaf = sorted[k]! % 512;
    leafOf[k] = leaf;
    weight[k] = scaled[leaf]!;
  }
  let nextLeaf = 0;
  let nextInternal = m;
  let created = m;
  const pick = (): number => {
    if (nextLeaf < m && (nextInternal >= created || weight[nextLeaf]! <= weight[nextInternal]!)) return nextLeaf++;
    return nextInternal++;
  };
  while (created < 2 * m - 1) {
    const a = pick();
    const b = pick();
    weight[created] = weight[a]! + weight[b]!;
    parent[a] = created;
    parent[b] = created;
    created++;
  }
  const root = 2 * m - 2;
  depth[root] = 0;
  let ok = true;
  for (let node = root - 1; node >= 0; node--) {
    const d = depth[parent[node]!]! + 1;
    depth[node] = d;
    if (node < m) {
      if (d > maxBits) ok = false;
      leafDepth[leafOf[node]!] = d;
    }
  }
  if (ok) depth.set(leafDepth.subarray(0, m), 0);
  return ok;
}
