import { crc32 } from 'node:zlib';
import { Deflate, Inflate, Z_BLOCK, Z_SYNC_FLUSH } from 'pako';
import type { ZStream } from 'pako';
import { CHECKSUM_BYTES } from './constants.ts';
import { BlipError } from './errors.ts';
import { frameHeaderLength, writeChecksum, writeFrameHeader } from './frame.ts';

/**
 * Per-direction frame codecs, after LiteCore's `Codec.cc`.
 *
 * Each direction has one running CRC32 and one raw deflate stream (pako, zlib's format and level 6).
 * The CRC covers the *uncompressed* body bytes of every non-ACK frame sent (or received) so far in that
 * direction, compressed or not, and is never reset between messages. The sender adds the frame's data
 * to the CRC, compresses it if the frame is compressed, writes the body and then appends the CRC
 * (big-endian); the receiver inflates, adds the inflated bytes to its CRC and compares. ACK frames
 * bypass both the CRC and the compressor. The deflate and inflate state is allocated on the first
 * compressed frame.
 *
 * A compressed frame is the output of a sync flush of the direction's single stream with the trailing
 * `00 00 FF FF` removed: it holds complete blocks and may refer back up to 32 KiB into the data of
 * earlier frames. The receiver appends the trailer again before inflating.
 */

const SYNC_TRAILER = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
const LEVEL = 6;
const WINDOW_BITS = 15;
const MEM_LEVEL = 8;
/** zlib ends a block after `(1 << (memLevel + 6)) - 1` symbols, each standing for at least one input byte. */
const MAX_BLOCK_SYMBOLS = (1 << (MEM_LEVEL + 6)) - 1;
/**
 * Output buffer size of the inflater: one allocation per compressed frame, and the most the inflater
 * may allocate past a frame's output bound before it is cut off.
 */
const INFLATE_CHUNK = 8 * 1024;
const DEFLATE_CHUNK = 4 * 1024;
/** Frames up to this size (body and trailer) are copied into one reused input buffer. */
const KEPT_INPUT_BYTES = 32 * 1024;
/** `data_type` bits set by inflate with Z_BLOCK: unused bits in the last byte, last block, at a block boundary. */
const UNUSED_BITS = 7;
const LAST_BLOCK = 64;
const AT_BOUNDARY = 128;

/**
 * Upper bound on the compressed body for `n` bytes of frame data. zlib picks a stored block whenever it
 * is no larger, and a stored block costs 5 bytes more than its data; the flush adds one header byte
 * (its `00 00 FF FF` is left out). The frame starts byte-aligned, after the previous frame's flush.
 */
export function maxDeflatedSize(n: number): number {
  return n + 5 * Math.ceil(n / MAX_BLOCK_SYMBOLS) + 1;
}

/** The body of a compressed frame with no data: an empty stored block header, as a sync flush writes it. */
const EMPTY_COMPRESSED = Uint8Array.of(0x00);

export class OutputCodec {
  #checksum = 0;
  #deflater: Deflate | undefined;
  #chunks: Uint8Array[] = [];
  #length = 0;

  /** The running CRC32 of all frame data sent so far. */
  get checksum(): number {
    return this.#checksum;
  }

  /**
   * Builds a non-ACK frame carrying `data` (uncompressed message bytes), compressing it if asked, and
   * advances the checksum.
   */
  encode(number: number, flags: number, data: Uint8Array, compress: boolean): Uint8Array {
    this.#checksum = crc32(data, this.#checksum);
    const headerLength = frameHeaderLength(number, flags);
    let frame: Uint8Array;
    if (compress && data.length > 0) {
      const chunks = this.#deflate(data);
      const bodyLength = this.#length - SYNC_TRAILER.length;
      frame = new Uint8Array(headerLength + bodyLength + CHECKSUM_BYTES);
      let o = headerLength;
      const end = headerLength + bodyLength;
      for (const chunk of chunks) {
        const n = Math.min(chunk.length, end - o);
        frame.set(n === chunk.length ? chunk : chunk.subarray(0, n), o);
        o += n;
      }
      chunks.length = 0;
      writeChecksum(frame, end, this.#checksum);
    } else {
      const body = compress ? EMPTY_COMPRESSED : data;
      frame = new Uint8Array(headerLength + body.length + CHECKSUM_BYTES);
      frame.set(body, headerLength);
      writeChecksum(frame, headerLength + body.length, this.#checksum);
    }
    writeFrameHeader(frame, number, flags);
    return frame;
  }

  /** Compresses `data` as the next part of the stream and sync-flushes; returns the output chunks, trailer included. */
  #deflate(data: Uint8Array): Uint8Array[] {
    if (this.#deflater === undefined) {
      const deflater = new Deflate({ raw: true, level: LEVEL, windowBits: WINDOW_BITS, memLevel: MEM_LEVEL, chunkSize: DEFLATE_CHUNK });
      deflater.onData = (chunk) => {
        this.#chunks.push(chunk);
        this.#length += chunk.length;
      };
      this.#deflater = deflater;
    }
    this.#chunks.length = 0;
    this.#length = 0;
    const deflater = this.#deflater;
    if (!deflater.push(data, Z_SYNC_FLUSH)) {
      throw new BlipError('invalid-message', `deflate failed: ${deflater.msg}`);
    }
    const chunks = this.#chunks;
    if (!endsWithTrailer(chunks, this.#length)) {
      throw new BlipError('invalid-message', 'deflate sync flush did not end with 00 00 FF FF');
    }
    return chunks;
  }
}

function endsWithTrailer(chunks: Uint8Array[], length: number): boolean {
  if (length < SYNC_TRAILER.length) return false;
  let k = SYNC_TRAILER.length;
  for (let c = chunks.length - 1; c >= 0 && k > 0; c--) {
    const chunk = chunks[c]!;
    for (let i = chunk.length - 1; i >= 0 && k > 0; i--) {
      if (chunk[i] !== SYNC_TRAILER[--k]) return false;
    }
  }
  return k === 0;
}

/** pako's inflater, fed one frame at a time, with its output counted against a per-frame bound. */
class FrameInflater extends Inflate {
  #strm: ZStream | undefined;
  #input = new Uint8Array(4096);
  #output: Uint8Array[] = [];
  #length = 0;
  #maxOutput = 0;

  constructor() {
    super({ raw: true, windowBits: WINDOW_BITS, chunkSize: INFLATE_CHUNK });
  }

  override onStart(strm: ZStream): void {
    this.#strm = strm;
  }

  override onData(chunk: Uint8Array): void {
    this.#length += chunk.length;
    // Thrown from inside push(): stops inflating at once, with at most one chunk allocated past the bound.
    if (this.#length > this.#maxOutput) {
      throw new BlipError('limit-exceeded', `inflated frame exceeds ${this.#maxOutput} bytes`);
    }
    this.#output.push(chunk);
  }

  /**
   * Decodes one compressed frame body (without its trailer) and returns a new buffer with the data.
   * Throws BlipError `bad-deflate` or, past `maxOutput` inflated bytes, `limit-exceeded`.
   */
  inflateFrame(body: Uint8Array, maxOutput: number): Buffer {
    const total = body.length + SYNC_TRAILER.length;
    if (this.#input.length < total && total <= KEPT_INPUT_BYTES) this.#input = new Uint8Array(KEPT_INPUT_BYTES);
    // A frame bigger than the kept buffer gets a buffer of its own, so one huge frame does not pin memory.
    const input = total <= this.#input.length ? this.#input : new Uint8Array(total);
    input.set(body, 0);
    input.set(SYNC_TRAILER, body.length);
    this.#output = [];
    this.#length = 0;
    this.#maxOutput = maxOutput;
    // Z_BLOCK stops at every block boundary (so data_type tells where the frame ended) and, like
    // Z_SYNC_FLUSH, makes push() hand over all the output produced so far.
    const ok = this.push(input.subarray(0, total), Z_BLOCK);
    if (!ok) throw corrupt(this.msg || `inflate error ${this.err}`);
    const dataType = this.#strm!.data_type;
    if (this.ended || (dataType & LAST_BLOCK) !== 0) throw corrupt('final block in a BLIP stream');
    if ((dataType & (AT_BOUNDARY | UNUSED_BITS)) !== AT_BOUNDARY) {
      throw corrupt('frame does not end with complete blocks and a sync flush');
    }
    const output = this.#output;
    this.#output = [];
    if (output.length === 1) return Buffer.from(output[0]!);
    return Buffer.concat(output, this.#length);
  }
}

function corrupt(message: string): BlipError {
  return new BlipError('bad-deflate', `invalid compressed frame: ${message}`);
}

export class InputCodec {
  #checksum = 0;
  #inflater: FrameInflater | undefined;
  #failed: BlipError | undefined;

  get checksum(): number {
    return this.#checksum;
  }

  /**
   * Decodes a non-ACK frame body, checks the frame's checksum and returns the uncompressed data.
   * Throws BlipError `bad-deflate`, `bad-checksum` or (past `maxOutput` inflated bytes) `limit-exceeded`.
   * After a deflate error or a limit the stream is unusable, and every later compressed frame fails too.
   */
  decode(body: Uint8Array, compressed: boolean, checksum: number, maxOutput: number): Uint8Array {
    let data = body;
    // An empty compressed frame carries no deflate data at all (go-blip skips the trailer for it too).
    if (compressed && body.length > 0) data = this.#inflate(body, maxOutput);
    this.#checksum = crc32(data, this.#checksum);
    if (this.#checksum !== checksum) {
      throw new BlipError(
        'bad-checksum',
        `frame checksum ${hex(checksum)} does not match ${hex(this.#checksum)} computed over the data received`,
      );
    }
    return data;
  }

  #inflate(body: Uint8Array, maxOutput: number): Uint8Array {
    if (this.#failed) throw new BlipError(this.#failed.code, `compressed stream already failed: ${this.#failed.message}`);
    this.#inflater ??= new FrameInflater();
    try {
      return this.#inflater.inflateFrame(body, maxOutput);
    } catch (err) {
      const error = err instanceof BlipError ? err : corrupt(String(err));
      this.#failed = error;
      this.#inflater = undefined;
      throw error;
    }
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
