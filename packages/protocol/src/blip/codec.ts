import { crc32, type ZlibOptions as NodeZlibOptions } from 'node:zlib';
import { DeflateRaw, InflateRaw, constants as zlibConstants, type ZlibOptions } from 'minizlib';
import { CHECKSUM_BYTES } from './constants.ts';
import { BlipError } from './errors.ts';
import { frameHeaderLength, writeChecksum, writeFrameHeader } from './frame.ts';

/**
 * Per-direction frame codecs, after LiteCore's `Codec.cc`.
 *
 * Each direction has one running CRC32 and one raw deflate stream: the sender compresses with the
 * native zlib (through minizlib, which drives it synchronously), and the receiver inflates with it too,
 * one whole frame at a time with bounded input (see `MAX_COMPRESSED_FRAME_BYTES`).
 * The CRC covers the *uncompressed* body bytes of every non-ACK frame sent (or received) so far in that
 * direction, compressed or not, and is never reset between messages. The sender adds the frame's data
 * to the CRC, compresses it if the frame is compressed, writes the body and then appends the CRC
 * (big-endian); the receiver inflates, adds the inflated bytes to its CRC and compares. ACK frames
 * bypass both the CRC and the compressor. The deflate and inflate state is allocated on the first
 * compressed frame, and each side may free it between frames (`release`, on an idle connection): the next
 * compressed frame restarts it with the stream's last bytes (the deflater's 8 KiB window, the peer's
 * 32 KiB) as its dictionary, so the stream continues unbroken.
 *
 * A compressed frame is the output of a sync flush of the direction's single stream with the trailing
 * `00 00 FF FF` removed: it holds complete blocks and may refer back up to 32 KiB into the data of
 * earlier frames. The receiver appends the trailer again before inflating.
 */

const SYNC_TRAILER = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
/** zlib's default level; a server may choose a faster one (see `OutputCodec`). */
export const DEFAULT_COMPRESSION_LEVEL = 6;
/** The deflater's memory level: blocks of at most 4,095 symbols, so every block still sits in the 8 KiB window and can be stored when it does not compress. */
const MEM_LEVEL = 6;
/**
 * The deflater's window: 8 KiB instead of zlib's 32 KiB. Matches reach back over several recent JSON
 * revisions, and releasing an idle deflater needs to keep only this much of the data (see `release`).
 * The peer's inflater accepts any window up to 32 KiB.
 */
const DEFLATE_WINDOW_BITS = 13;
const DEFLATE_WINDOW = 1 << DEFLATE_WINDOW_BITS;
/** zlib ends a block after `(1 << (memLevel + 6)) - 1` symbols, each standing for at least one input byte. */
const MAX_BLOCK_SYMBOLS = (1 << (MEM_LEVEL + 6)) - 1;
/** The inflater's reused input buffer grows up to this size (body and trailer). */
const KEPT_INPUT_BYTES = 32 * 1024;

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

/**
 * The last `capacity` bytes of a stream, for a restarted deflater or inflater to use as its dictionary.
 * The buffer grows with the data up to `capacity` (a connection that received little keeps little), then
 * wraps around as a ring.
 */
class StreamHistory {
  readonly #capacity: number;
  #buffer: Uint8Array | undefined;
  /** Bytes held while not full; the ring's write position once full. */
  #end = 0;
  #full = false;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  append(data: Uint8Array): void {
    if (data.length === 0) return;
    const capacity = this.#capacity;
    if (data.length >= capacity) {
      const buffer = this.#buffer?.length === capacity ? this.#buffer : new Uint8Array(capacity);
      buffer.set(data.subarray(data.length - capacity));
      this.#buffer = buffer;
      this.#end = 0;
      this.#full = true;
      return;
    }
    if (!this.#full) {
      const needed = this.#end + data.length;
      if (needed <= capacity) {
        if (this.#buffer === undefined || this.#buffer.length < needed) {
          let size = Math.max(1024, this.#buffer?.length ?? 0);
          while (size < needed) size *= 2;
          const grown = new Uint8Array(Math.min(size, capacity));
          if (this.#buffer !== undefined) grown.set(this.#buffer.subarray(0, this.#end));
          this.#buffer = grown;
        }
        this.#buffer.set(data, this.#end);
        this.#end = needed % capacity;
        if (needed === capacity) this.#full = true;
        return;
      }
      // Overflows the capacity: becomes a full ring holding the last `capacity` bytes.
      const ring = new Uint8Array(capacity);
      const keep = capacity - data.length;
      ring.set(this.#buffer!.subarray(this.#end - keep, this.#end));
      ring.set(data, keep);
      this.#buffer = ring;
      this.#end = 0;
      this.#full = true;
      return;
    }
    const ring = this.#buffer!;
    const first = Math.min(data.length, capacity - this.#end);
    ring.set(data.subarray(0, first), this.#end);
    ring.set(data.subarray(first), 0);
    this.#end = (this.#end + data.length) % capacity;
  }

  /** The kept bytes, oldest first. */
  window(): Buffer {
    const buffer = this.#buffer;
    if (buffer === undefined) return Buffer.alloc(0);
    if (!this.#full) return Buffer.from(buffer.subarray(0, this.#end));
    return Buffer.concat([buffer.subarray(this.#end), buffer.subarray(0, this.#end)]);
  }
}

export class OutputCodec {
  readonly #level: number;
  #checksum = 0;
  #deflater: DeflateRaw | undefined;
  #chunks: Buffer[] = [];
  #length = 0;
  #failure: Error | undefined;
  /** The last DEFLATE_WINDOW bytes fed to the deflater. */
  readonly #history = new StreamHistory(DEFLATE_WINDOW);

  /** `level`: zlib compression level 1 (fastest) to 9 (smallest), for every compressed frame. */
  constructor(level = DEFAULT_COMPRESSION_LEVEL) {
    this.#level = level;
  }

  /** The running CRC32 of all frame data sent so far. */
  get checksum(): number {
    return this.#checksum;
  }

  /** True while the deflater's state (about 200 KiB of native memory) is allocated. */
  get holdsDeflater(): boolean {
    return this.#deflater !== undefined;
  }

  /**
   * Frees the deflater of an idle connection. The next compressed frame starts a new deflater primed
   * with the kept window as its dictionary: its matches refer to the same bytes the peer's inflater holds,
   * so the peer sees one continuous stream.
   */
  release(): void {
    this.#deflater?.close();
    this.#deflater = undefined;
  }

  /**
   * Builds a non-ACK frame carrying `data` (uncompressed message bytes), compressing it if asked, and
   * advances the checksum.
   */
  encode(number: number, flags: number, data: Uint8Array, compress: boolean): Uint8Array {
    if (data.length > 0) this.#checksum = crc32(data, this.#checksum);
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
      writeChecksum(frame, end, this.#checksum);
      // The chunks are views into the deflater's output buffer: holding them would keep it alive while idle.
      this.#chunks = [];
    } else {
      const body = compress ? EMPTY_COMPRESSED : data;
      frame = new Uint8Array(headerLength + body.length + CHECKSUM_BYTES);
      frame.set(body, headerLength);
      writeChecksum(frame, headerLength + body.length, this.#checksum);
    }
    writeFrameHeader(frame, number, flags);
    return frame;
  }

  /** Compresses `data` as the next part of the stream with a sync flush; returns the output chunks, trailer included. */
  #deflate(data: Uint8Array): Buffer[] {
    const deflater = this.#deflater ?? this.#startDeflater();
    this.#chunks = [];
    this.#length = 0;
    deflater.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (this.#failure) throw new BlipError('invalid-message', `deflate failed: ${this.#failure.message}`);
    const chunks = this.#chunks;
    if (!endsWithTrailer(chunks, this.#length)) {
      throw new BlipError('invalid-message', 'deflate sync flush did not end with 00 00 FF FF');
    }
    this.#history.append(data);
    return chunks;
  }

  #startDeflater(): DeflateRaw {
    const options: ZlibOptions & NodeZlibOptions = {
      level: this.#level,
      windowBits: DEFLATE_WINDOW_BITS,
      memLevel: MEM_LEVEL,
      flush: zlibConstants.Z_SYNC_FLUSH,
    };
    const dictionary = this.#history.window();
    if (dictionary.length > 0) options.dictionary = dictionary;
    const deflater = new DeflateRaw(options);
    deflater.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    });
    deflater.on('error', (err: unknown) => {
      this.#failure = err instanceof Error ? err : new Error(String(err));
    });
    this.#deflater = deflater;
    return deflater;
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

/**
 * Most compressed bytes one frame may carry. Peers send frames of at most 16 KiB; the native inflater
 * produces a frame's whole output before it can be measured, so the input is bounded instead (deflate
 * expands at most about 1,032 times).
 */
export const MAX_COMPRESSED_FRAME_BYTES = 64 * 1024;

/** The native inflater (through minizlib), fed one frame at a time with the sync-flush trailer put back. */
class FrameInflater {
  readonly #inflater: InflateRaw;
  #input = new Uint8Array(4096);
  #output: Buffer[] = [];
  #length = 0;
  #failure: Error | undefined;

  /** `dictionary`: the last inflated bytes of the stream so far (up to 32 KiB), when restarting a released inflater. */
  constructor(dictionary: Uint8Array | undefined) {
    const options: ZlibOptions & NodeZlibOptions = { flush: zlibConstants.Z_SYNC_FLUSH };
    if (dictionary !== undefined && dictionary.length > 0) options.dictionary = Buffer.from(dictionary.buffer, dictionary.byteOffset, dictionary.byteLength);
    this.#inflater = new InflateRaw(options);
    this.#inflater.on('data', (chunk: Buffer) => {
      this.#output.push(chunk);
      this.#length += chunk.length;
    });
    this.#inflater.on('error', (err: unknown) => {
      this.#failure = err instanceof Error ? err : new Error(String(err));
    });
  }

  /**
   * Decodes one compressed frame body (without its trailer) and returns a new buffer with the data.
   * Throws BlipError `bad-deflate` or, past `maxOutput` inflated bytes, `limit-exceeded`. A frame that
   * ends mid-block or holds a final block inflates to the wrong bytes and fails the checksum instead.
   */
  inflateFrame(body: Uint8Array, maxOutput: number): Buffer {
    if (body.length > MAX_COMPRESSED_FRAME_BYTES) {
      throw new BlipError('limit-exceeded', `compressed frame of ${body.length} bytes exceeds ${MAX_COMPRESSED_FRAME_BYTES}`);
    }
    const total = body.length + SYNC_TRAILER.length;
    if (this.#input.length < total) this.#input = new Uint8Array(Math.max(total, Math.min(2 * this.#input.length, KEPT_INPUT_BYTES)));
    const input = this.#input;
    input.set(body, 0);
    input.set(SYNC_TRAILER, body.length);
    this.#output = [];
    this.#length = 0;
    this.#inflater.write(Buffer.from(input.buffer, input.byteOffset, total));
    if (this.#failure) throw corrupt(this.#failure.message);
    if (this.#length > maxOutput) throw new BlipError('limit-exceeded', `inflated frame exceeds ${maxOutput} bytes`);
    const output = this.#output;
    this.#output = [];
    if (output.length === 1) return output[0]!;
    return Buffer.concat(output, this.#length);
  }

  close(): void {
    this.#inflater.close();
  }
}

/** The window of a raw deflate stream from a peer: zlib's largest, which Couchbase Lite uses. */
const INFLATE_WINDOW = 32 * 1024;

function corrupt(message: string): BlipError {
  return new BlipError('bad-deflate', `invalid compressed frame: ${message}`);
}

export class InputCodec {
  #checksum = 0;
  #inflater: FrameInflater | undefined;
  /** The inflated data of the stream so far, up to the peer's window, for restarting a released inflater. */
  #history: StreamHistory | undefined;
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
    // zlib's crc32 of an empty view whose buffer has no backing store (a null pointer) is 0, not the running value.
    if (data.length > 0) this.#checksum = crc32(data, this.#checksum);
    if (this.#checksum !== checksum) {
      throw new BlipError(
        'bad-checksum',
        `frame checksum ${hex(checksum)} does not match ${hex(this.#checksum)} computed over the data received`,
      );
    }
    return data;
  }

  /** True while the inflater's state (about 60 KiB of native memory and buffers) is allocated. */
  get holdsInflater(): boolean {
    return this.#inflater !== undefined;
  }

  /**
   * Frees the inflater of an idle connection. Every compressed frame ends with a sync flush, so nothing is
   * pending between frames; the next compressed frame starts a new inflater primed with the kept 32 KiB of
   * inflated data as its dictionary, which is what the peer's matches may refer back to.
   */
  release(): void {
    this.#inflater?.close();
    this.#inflater = undefined;
  }

  #inflate(body: Uint8Array, maxOutput: number): Uint8Array {
    if (this.#failed) throw new BlipError(this.#failed.code, `compressed stream already failed: ${this.#failed.message}`);
    const history = (this.#history ??= new StreamHistory(INFLATE_WINDOW));
    this.#inflater ??= new FrameInflater(history.window());
    try {
      const data = this.#inflater.inflateFrame(body, maxOutput);
      history.append(data);
      return data;
    } catch (err) {
      const error = err instanceof BlipError ? err : corrupt(String(err));
      this.#failed = error;
      this.#inflater?.close();
      this.#inflater = undefined;
      this.#history = undefined;
      throw error;
    }
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
