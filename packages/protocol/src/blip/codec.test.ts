import { randomBytes } from 'node:crypto';
import { constants as zc, crc32, createDeflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeflateRaw } from 'minizlib';
import { InputCodec, MAX_COMPRESSED_FRAME_BYTES, OutputCodec, maxDeflatedSize } from './codec.ts';
import { BlipError } from './errors.ts';
import { decodeFrame } from './frame.ts';

const TRAILER = Buffer.from([0, 0, 0xff, 0xff]);
const COMPRESSED = 0x08;

/** Compresses each input as one frame of a single OutputCodec stream; returns the frame bodies. */
function ourBodies(inputs: Uint8Array[], codec = new OutputCodec()): Buffer[] {
  return inputs.map((input, i) => Buffer.from(decodeFrame(codec.encode(i + 1, COMPRESSED, input, true)).body));
}

/** Inflates a BLIP-style frame sequence with zlib, the independent reference. */
function zlibInflate(bodies: Uint8Array[]): Buffer {
  const stream = Buffer.concat(bodies.flatMap((b) => [Buffer.from(b), TRAILER]));
  return inflateRawSync(stream, { finishFlush: zc.Z_SYNC_FLUSH });
}

/** Frames from one persistent zlib deflate stream, each sync-flushed and stripped as BLIP does. */
async function zlibFrames(inputs: Uint8Array[], options: ZlibOptions = {}): Promise<Buffer[]> {
  const deflate = createDeflateRaw(options);
  let chunks: Buffer[] = [];
  deflate.on('data', (c: Buffer) => chunks.push(c));
  const frames: Buffer[] = [];
  for (const input of inputs) {
    deflate.write(input);
    await new Promise<void>((resolve) => deflate.flush(zc.Z_SYNC_FLUSH, () => resolve()));
    const out = Buffer.concat(chunks);
    chunks = [];
    expect(out.subarray(-4).equals(TRAILER)).toBe(true);
    frames.push(out.subarray(0, -4));
  }
  deflate.close();
  return frames;
}

/** Decodes compressed frame bodies in order with one InputCodec, checksums computed as a sender would. */
function decodeAll(bodies: Uint8Array[], inputs: Uint8Array[], maxOutput = 1 << 20): Buffer[] {
  const codec = new InputCodec();
  let crc = 0;
  return bodies.map((body, i) => {
    crc = crc32(inputs[i]!, crc);
    return Buffer.from(codec.decode(body, true, crc, maxOutput));
  });
}

const json = (i: number): Buffer =>
  Buffer.from(JSON.stringify({ _id: `doc-${i}`, _rev: `1-${i.toString(16)}`, type: 'user', n: i, tags: ['a', 'b'], text: 'lorem ipsum '.repeat(i % 7) }));

const dataArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc.string({ maxLength: 2000 }).map((s) => Buffer.from(s)),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 70_000 })).map(([b, n]) => Buffer.alloc(n, b)),
  fc.nat(5000).map(json),
  fc.array(fc.constantFrom('abc', 'abd', '{"x":', '}', ' ', 'zzzz'), { maxLength: 400 }).map((a) => Buffer.from(a.join(''))),
);

function catchError(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

describe('OutputCodec compression', () => {
  it('produces frames that zlib inflates as one continuous stream, within maxDeflatedSize', () => {
    fc.assert(
      fc.property(fc.array(dataArb, { minLength: 1, maxLength: 12 }), (inputs) => {
        const bodies = ourBodies(inputs);
        bodies.forEach((body, i) => expect(body.length).toBeLessThanOrEqual(maxDeflatedSize(inputs[i]!.length)));
        expect(zlibInflate(bodies).equals(Buffer.concat(inputs))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('stays within maxDeflatedSize for incompressible frames of every size up to a few blocks', () => {
    const codec = new OutputCodec();
    const sizes = [1, 2, 100, 4095, 4096, 16_382, 16_383, 16_384, 16_385, 32_766, 32_767, 49_149, 49_150, 70_000];
    const inputs = sizes.map((n) => randomBytes(n));
    const bodies = ourBodies(inputs, codec);
    bodies.forEach((body, i) => expect(body.length).toBeLessThanOrEqual(maxDeflatedSize(sizes[i]!)));
    expect(zlibInflate(bodies).equals(Buffer.concat(inputs))).toBe(true);
  });

  it('keeps matching across frames and window slides over megabytes of data', () => {
    const inputs: Buffer[] = [];
    for (let i = 0; i < 3000; i++) inputs.push(json(i));
    inputs.push(randomBytes(200_000), Buffer.alloc(100_000, 1), Buffer.from('xyz'.repeat(40_000)));
    const bodies = ourBodies(inputs);
    const total = inputs.reduce((a, b) => a + b.length, 0);
    const compressed = bodies.reduce((a, b) => a + b.length, 0);
    expect(zlibInflate(bodies).equals(Buffer.concat(inputs))).toBe(true);
    expect(compressed).toBeLessThan(total * 0.75);
  });

  it('compresses about as well as zlib level 6 on JSON documents', () => {
    const docs = Array.from({ length: 500 }, (_, i) => json(i));
    const ourSize = ourBodies(docs).reduce((a, b) => a + b.length, 0);
    const whole = deflateRawSync(Buffer.concat(docs), { level: 6 }).length;
    expect(ourSize).toBeLessThan(whole * 2);
  });

  it('continues one stream across releases of an idle deflater, restarting from the kept window', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(dataArb, fc.boolean()), { minLength: 1, maxLength: 12 }), (steps) => {
        const codec = new OutputCodec(1);
        const inputs = steps.map(([data]) => Buffer.from(data));
        const bodies = steps.map(([data, releaseAfter], i) => {
          const body = Buffer.from(decodeFrame(codec.encode(i + 1, COMPRESSED, data, true)).body);
          if (releaseAfter) codec.release();
          return body;
        });
        expect(zlibInflate(bodies).equals(Buffer.concat(inputs))).toBe(true);
        decodeAll(bodies, inputs).forEach((out, i) => expect(out.equals(inputs[i]!)).toBe(true));
      }),
      { numRuns: 100 },
    );
    const codec = new OutputCodec();
    ourBodies([json(1)], codec);
    expect(codec.holdsDeflater).toBe(true);
    codec.release();
    expect(codec.holdsDeflater).toBe(false);
  });

  it('continues one stream across releases of an idle inflater, restarting from the kept 32 KiB', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(dataArb, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 12 }), (steps) => {
        const output = new OutputCodec(6);
        const input = new InputCodec();
        let crc = 0;
        for (const [data, releaseOut, releaseIn] of steps) {
          const body = Buffer.from(decodeFrame(output.encode(1, COMPRESSED, data, true)).body);
          crc = crc32(data, crc);
          expect(Buffer.from(input.decode(body, true, crc, 1 << 20)).equals(Buffer.from(data))).toBe(true);
          if (releaseOut) output.release();
          if (releaseIn) input.release();
        }
      }),
      { numRuns: 100 },
    );
    // A peer deflating with zlib's full 32 KiB window: matches reach back up to 30 KiB across a release.
    const peerOptions: ZlibOptions = { level: 9, windowBits: 15, flush: zc.Z_SYNC_FLUSH };
    const peer = new DeflateRaw(peerOptions);
    const chunks: Buffer[] = [];
    peer.on('data', (chunk: Buffer) => chunks.push(chunk));
    const frame = (data: Buffer): Buffer => {
      chunks.length = 0;
      peer.write(data);
      const out = Buffer.concat(chunks);
      return out.subarray(0, out.length - 4);
    };
    const a = randomBytes(30_000);
    const b = Buffer.concat([a.subarray(0, 10_000), randomBytes(100), a.subarray(20_000)]);
    const input = new InputCodec();
    let crc = crc32(a);
    expect(Buffer.from(input.decode(frame(a), true, crc, 1 << 20)).equals(a)).toBe(true);
    expect(input.holdsInflater).toBe(true);
    input.release();
    expect(input.holdsInflater).toBe(false);
    const body = frame(b);
    expect(body.length).toBeLessThan(1_000);
    crc = crc32(b, crc);
    expect(Buffer.from(input.decode(body, true, crc, 1 << 20)).equals(b)).toBe(true);
    peer.close();
  });

  it('writes an empty stored block header for a compressed frame with no data', () => {
    const codec = new OutputCodec();
    const [first, empty, last] = ourBodies([json(1), Buffer.alloc(0), json(2)], codec);
    expect(empty!.toString('hex')).toBe('00');
    expect(zlibInflate([first!, empty!, last!]).equals(Buffer.concat([json(1), json(2)]))).toBe(true);
  });
});

describe('InputCodec decompression', () => {
  it('decodes frames of a persistent zlib stream, at every level and strategy', async () => {
    const inputs = [
      ...Array.from({ length: 60 }, (_, i) => json(i)),
      randomBytes(40_000),
      Buffer.alloc(60_000, 9),
      Buffer.from('abcdefgh'.repeat(7000)),
      Buffer.from([7]),
    ];
    for (const options of [
      { level: 1 },
      { level: 6 },
      { level: 9, memLevel: 9 },
      { strategy: zc.Z_HUFFMAN_ONLY },
      { strategy: zc.Z_RLE },
      { strategy: zc.Z_FIXED },
      { level: 0 },
    ] satisfies ZlibOptions[]) {
      const frames = await zlibFrames(inputs, options);
      const outputs = decodeAll(frames, inputs);
      outputs.forEach((out, i) => expect(out.equals(inputs[i]!)).toBe(true));
    }
  });

  it('round-trips whatever the encoder produces', () => {
    fc.assert(
      fc.property(fc.array(dataArb, { minLength: 1, maxLength: 10 }), (inputs) => {
        const outputs = decodeAll(ourBodies(inputs), inputs);
        outputs.forEach((out, i) => expect(out.equals(Buffer.from(inputs[i]!))).toBe(true));
      }),
      { numRuns: 150 },
    );
  });

  it('returns buffers of exactly the frame data, not views of a larger output buffer', () => {
    const inputs = [json(1), json(2)];
    const [a, b] = decodeAll(ourBodies(inputs), inputs);
    for (const out of [a!, b!]) expect(out.buffer.byteLength).toBeLessThan(16 * 1024);
  });

  it('refuses output past the bound, and compressed frames too big to inflate safely', () => {
    const zeros = deflateRawSync(Buffer.alloc(5_000_000), { finishFlush: zc.Z_SYNC_FLUSH }).subarray(0, -4);
    expect(zeros.length).toBeLessThan(10_000);
    const err = catchError(() => new InputCodec().decode(zeros, true, 0, 1_000_000));
    expect(err).toBeInstanceOf(BlipError);
    expect((err as BlipError).code).toBe('limit-exceeded');
    const crc = crc32(Buffer.alloc(5_000_000));
    expect(new InputCodec().decode(zeros, true, crc, 5_000_000).length).toBe(5_000_000);
    // Exactly at the bound is fine.
    expect(new InputCodec().decode(zeros, true, crc, 5_000_001).length).toBe(5_000_000);
    // The whole output of a frame exists before it is measured: the input is capped, which caps the output.
    const big = randomBytes(MAX_COMPRESSED_FRAME_BYTES + 1);
    const tooBig = catchError(() => new InputCodec().decode(big, true, 0, 100_000_000));
    expect((tooBig as BlipError).code).toBe('limit-exceeded');
  });

  it('rejects malformed deflate data with bad-deflate, or fails the checksum of that frame or the next', () => {
    const cases: [string, RegExp][] = [
      ['06', /invalid block type/],
      ['00 0500 0000 41', /invalid stored block lengths/],
      ['1a 03', /invalid literal\/length code/],
      ['1a 03 1a 03', /./],
    ];
    for (const [bytes, message] of cases) {
      const err = catchError(() => new InputCodec().decode(Buffer.from(bytes.replace(/ /g, ''), 'hex'), true, 0, 1000));
      expect(err, bytes).toBeInstanceOf(BlipError);
      expect((err as BlipError).code, bytes).toBe('bad-deflate');
      expect((err as BlipError).message, bytes).toMatch(message);
    }
    // A final block, or a frame that stops mid-block, may inflate to something: what follows cannot decode.
    for (const bytes of ['01', '03 00', '02', '00 0a00 f5ff 41']) {
      const codec = new InputCodec();
      const next = json(1);
      const [body] = ourBodies([next]);
      const err = catchError(() => {
        codec.decode(Buffer.from(bytes.replace(/ /g, ''), 'hex'), true, 0, 1000);
        codec.decode(body!, true, crc32(next, codec.checksum), 1000);
      });
      expect(err, bytes).toBeInstanceOf(BlipError);
      expect(['bad-deflate', 'bad-checksum'], bytes).toContain((err as BlipError).code);
    }
  });

  it('refuses every compressed frame after a failure', () => {
    const codec = new InputCodec();
    expect(catchError(() => codec.decode(Buffer.from('06', 'hex'), true, 0, 1000))).toBeInstanceOf(BlipError);
    const [body] = ourBodies([json(1)]);
    const err = catchError(() => codec.decode(body!, true, crc32(json(1)), 1000));
    expect((err as BlipError).code).toBe('bad-deflate');
    // Uncompressed frames do not touch the deflate stream.
    expect(codec.decode(Buffer.from('ab'), false, crc32(Buffer.from('ab')), 1000).length).toBe(2);
  });

  it('never throws anything but BlipError on random input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 }), (frames) => {
        const codec = new InputCodec();
        for (const frame of frames) {
          const err = catchError(() => codec.decode(frame, true, 0, 10_000));
          if (err === undefined) continue;
          expect(err).toBeInstanceOf(BlipError);
          expect(['bad-deflate', 'bad-checksum', 'limit-exceeded']).toContain((err as BlipError).code);
          break;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
