import { randomBytes } from 'node:crypto';
import { constants as zc, createDeflateRaw, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RawDeflater, maxDeflatedSize } from './deflate.ts';
import { BlipError } from './errors.ts';
import { buildLengths } from './huffman.ts';
import { RawInflater } from './inflate.ts';

const TRAILER = Buffer.from([0, 0, 0xff, 0xff]);

/** Inflates a BLIP-style frame sequence with zlib, the independent reference. */
function zlibInflate(frames: Uint8Array[]): Buffer {
  const stream = Buffer.concat(frames.flatMap((f) => [Buffer.from(f), TRAILER]));
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

const json = (i: number): Buffer =>
  Buffer.from(JSON.stringify({ _id: `doc-${i}`, _rev: `1-${i.toString(16)}`, type: 'user', n: i, tags: ['a', 'b'], text: 'lorem ipsum '.repeat(i % 7) }));

const dataArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc.string({ maxLength: 2000 }).map((s) => Buffer.from(s)),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 70_000 })).map(([b, n]) => Buffer.alloc(n, b)),
  fc.nat(5000).map(json),
  fc.array(fc.constantFrom('abc', 'abd', '{"x":', '}', ' ', 'zzzz'), { maxLength: 400 }).map((a) => Buffer.from(a.join(''))),
);

describe('RawDeflater', () => {
  it('produces frames that zlib inflates as one continuous stream', () => {
    fc.assert(
      fc.property(fc.array(dataArb.filter((d) => d.length > 0), { minLength: 1, maxLength: 12 }), (inputs) => {
        const deflater = new RawDeflater();
        const frames = inputs.map((input) => {
          const out = deflater.deflate(input).slice();
          expect(out.length).toBeLessThanOrEqual(maxDeflatedSize(input.length));
          return out;
        });
        expect(zlibInflate(frames).equals(Buffer.concat(inputs))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('keeps matching across frames and window slides over megabytes of data', () => {
    const deflater = new RawDeflater();
    const inputs: Buffer[] = [];
    for (let i = 0; i < 3000; i++) inputs.push(json(i));
    inputs.push(randomBytes(200_000), Buffer.alloc(100_000, 1), Buffer.from('xyz'.repeat(40_000)));
    const frames = inputs.map((input) => deflater.deflate(input).slice());
    const total = inputs.reduce((a, b) => a + b.length, 0);
    const compressed = frames.reduce((a, b) => a + b.length, 0);
    expect(zlibInflate(frames).equals(Buffer.concat(inputs))).toBe(true);
    expect(compressed).toBeLessThan(total * 0.75);
  });

  it('compresses about as well as zlib level 6 on JSON documents', () => {
    const docs = Array.from({ length: 500 }, (_, i) => json(i));
    const ours = new RawDeflater();
    const ourSize = docs.reduce((a, d) => a + ours.deflate(d).length, 0);
    const whole = deflateRawSync(Buffer.concat(docs), { level: 6 }).length;
    expect(ourSize).toBeLessThan(whole * 2);
  });
});

describe('RawInflater', () => {
  it('decodes frames of a persistent zlib stream, at every level and strategy', async () => {
    const inputs = [
      ...Array.from({ length: 60 }, (_, i) => json(i)),
      randomBytes(40_000),
      Buffer.alloc(70_000, 9),
      Buffer.from('abcdefgh'.repeat(9000)),
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
      const inflater = new RawInflater();
      frames.forEach((frame, i) => {
        expect(inflater.inflate(frame, 1 << 20).equals(inputs[i]!)).toBe(true);
      });
    }
  });

  it('round-trips whatever the deflater produces', () => {
    fc.assert(
      fc.property(fc.array(dataArb, { minLength: 1, maxLength: 10 }), (inputs) => {
        const deflater = new RawDeflater();
        const inflater = new RawInflater();
        for (const input of inputs) {
          if (input.length === 0) continue;
          expect(inflater.inflate(deflater.deflate(input), 1 << 20).equals(Buffer.from(input))).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('stops at the output bound before writing past it', () => {
    const zeros = deflateRawSync(Buffer.alloc(5_000_000), { finishFlush: zc.Z_SYNC_FLUSH }).subarray(0, -4);
    expect(zeros.length).toBeLessThan(10_000);
    const err = catchError(() => new RawInflater().inflate(zeros, 1_000_000));
    expect(err).toBeInstanceOf(BlipError);
    expect((err as BlipError).code).toBe('limit-exceeded');
    expect(new RawInflater().inflate(zeros, 5_000_000).length).toBe(5_000_000);
  });

  it('rejects malformed deflate data with bad-deflate', () => {
    const cases: [string, string][] = [
      ['06', 'invalid block type'],
      ['01', 'final block'],
      ['00 0500 0000 41', 'length check'],
      ['00 0a00 f5ff 41', 'truncated stored block'],
      ['02', 'truncated'],
      ['1a 03', 'invalid length symbol'],
    ];
    for (const [bytes, message] of cases) {
      const err = catchError(() => new RawInflater().inflate(Buffer.from(bytes.replace(/ /g, ''), 'hex'), 1000));
      expect(err).toBeInstanceOf(BlipError);
      expect((err as BlipError).code).toBe('bad-deflate');
      expect((err as BlipError).message).toMatch(new RegExp(message));
    }
  });

  it('never throws anything but BlipError on random input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 }), (frames) => {
        const inflater = new RawInflater();
        for (const frame of frames) {
          const err = catchError(() => inflater.inflate(frame, 10_000));
          if (err === undefined) continue;
          expect(err).toBeInstanceOf(BlipError);
          break;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('buildLengths', () => {
  it('limits code lengths and keeps the code complete, even for Fibonacci frequencies', () => {
    const freq = new Uint32Array(286);
    let a = 1;
    let b = 1;
    for (let i = 0; i < 30; i++) {
      freq[i] = a;
      [a, b] = [b, a + b];
    }
    const lengths = new Uint8Array(286);
    buildLengths(freq, 286, 15, lengths);
    let kraft = 0;
    for (let i = 0; i < 286; i++) {
      if (freq[i]! > 0) expect(lengths[i]).toBeGreaterThan(0);
      expect(lengths[i]).toBeLessThanOrEqual(15);
      if (lengths[i]! > 0) kraft += 2 ** -lengths[i]!;
    }
    expect(kraft).toBe(1);
  });

  it('gives two one-bit codes when at most one symbol is used', () => {
    const lengths = new Uint8Array(30);
    buildLengths(new Uint32Array(30), 30, 15, lengths);
    expect([...lengths.subarray(0, 3)]).toEqual([1, 1, 0]);
    const freq = new Uint32Array(30);
    freq[7] = 9;
    buildLengths(freq, 30, 15, lengths);
    expect(lengths[7]).toBe(1);
    expect(lengths[0]).toBe(1);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}
