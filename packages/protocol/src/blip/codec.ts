import { crc32 } from 'node:zlib';
import { CHECKSUM_BYTES } from './constants.ts';
import { RawDeflater } from './deflate.ts';
import { BlipError } from './errors.ts';
import { frameHeaderLength, writeChecksum, writeFrameHeader } from './frame.ts';
import { RawInflater } from './inflate.ts';

/**
 * Per-direction frame codecs, after LiteCore's `Codec.cc`.
 *
 * Each direction has one running CRC32 and one deflate stream. The CRC covers the *uncompressed* body
 * bytes of every non-ACK frame sent (or received) so far in that direction, compressed or not, and is
 * never reset between messages. The sender adds the frame's data to the CRC, compresses it if the
 * frame is compressed, writes the body and then appends the CRC (big-endian); the receiver inflates,
 * adds the inflated bytes to its CRC and compares. ACK frames bypass both the CRC and the compressor.
 * The deflate and inflate state is allocated on the first compressed frame.
 */

export class OutputCodec {
  #checksum = 0;
  #deflater: RawDeflater | undefined;

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
    let body = data;
    if (compress) {
      this.#deflater ??= new RawDeflater();
      body = this.#deflater.deflate(data);
    }
    const headerLength = frameHeaderLength(number, flags);
    const frame = new Uint8Array(headerLength + body.length + CHECKSUM_BYTES);
    writeFrameHeader(frame, number, flags);
    frame.set(body, headerLength);
    writeChecksum(frame, headerLength + body.length, this.#checksum);
    return frame;
  }
}

export class InputCodec {
  #checksum = 0;
  #inflater: RawInflater | undefined;

  get checksum(): number {
    return this.#checksum;
  }

  /**
   * Decodes a non-ACK frame body, checks the frame's checksum and returns the uncompressed data.
   * Throws BlipError `bad-deflate`, `bad-checksum` or (past `maxOutput` inflated bytes) `limit-exceeded`.
   */
  decode(body: Uint8Array, compressed: boolean, checksum: number, maxOutput: number): Uint8Array {
    let data = body;
    if (compressed) {
      this.#inflater ??= new RawInflater();
      data = this.#inflater.inflate(body, maxOutput);
    }
    this.#checksum = crc32(data, this.#checksum);
    if (this.#checksum !== checksum) {
      throw new BlipError(
        'bad-checksum',
        `frame checksum ${hex(checksum)} does not match ${hex(this.#checksum)} computed over the data received`,
      );
    }
    return data;
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
