import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeDocumentMultipart,
  decodeRevisionsMixed,
  encodeDocumentRelated,
  encodeRevisionsMixed,
  MultipartError,
  parseMultipart,
} from '../../src/index.ts';
import { couchPutBody, couchPutType } from './samples.ts';

/** Runs fn and fails on anything thrown other than a MultipartError. */
function expectOnlyMultipartError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof MultipartError)) throw err;
    expect(err.message.length).toBeGreaterThan(0);
  }
}

function decodeAll(body: Buffer, contentType: string): void {
  expectOnlyMultipartError(() => parseMultipart(body, contentType, { maxParts: 50, maxHeaderBytes: 256 }));
  expectOnlyMultipartError(() => decodeDocumentMultipart(body, contentType.replace(/^multipart\/\w+/, 'multipart/related')));
  expectOnlyMultipartError(() => decodeRevisionsMixed(body, contentType.replace(/^multipart\/\w+/, 'multipart/mixed')));
}

const related = encodeDocumentRelated(
  { _id: 'doc', _rev: '2-x', _attachments: { '1': { stub: true }, 'a.txt': { stub: true } } },
  [
    { name: 'a.txt', contentType: 'text/plain', data: Buffer.from('hello\r\n--world') },
    { name: '1', contentType: 'image/png', data: Buffer.from([0, 13, 10, 45, 45, 255]), encoding: 'gzip' },
  ],
);
const mixed = encodeRevisionsMixed([
  { doc: { _id: 'doc', _rev: '1-a' } },
  { doc: { _id: 'doc', _rev: '2-x' }, attachments: [{ name: 'b', contentType: 'text/plain', data: Buffer.from('b') }] },
  { missing: '3-z' },
]);
const seeds = [related, mixed, { contentType: couchPutType, body: couchPutBody }];

const boundaryOf = (contentType: string): string => /boundary="([^"]+)"/.exec(contentType)?.[1] ?? '';

/** Byte fragments likely to confuse a parser when spliced into a valid body. */
function fragments(contentType: string): fc.Arbitrary<Buffer> {
  const boundary = boundaryOf(contentType);
  return fc.oneof(
    fc.constantFrom('\r\n', '\n', '\r', '--', `--${boundary}`, `\r\n--${boundary}\r\n`, `\r\n--${boundary}--`, ':', '\r\n\r\n', '{', '"follows":true')
      .map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
  );
}

type Mutation = (body: Buffer) => Buffer;

function mutation(contentType: string): fc.Arbitrary<Mutation> {
  const at = fc.double({ min: 0, max: 1, noNaN: true });
  const pos = (body: Buffer, f: number) => Math.floor(f * body.length);
  return fc.oneof(
    fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([f, byte]): Mutation => (body) => {
      const copy = Buffer.from(body);
      if (copy.length > 0) copy[Math.min(pos(copy, f), copy.length - 1)] = byte;
      return copy;
    }),
    fc.tuple(at, fc.nat(40)).map(([f, n]): Mutation => (body) => {
      const i = pos(body, f);
      return Buffer.concat([body.subarray(0, i), body.subarray(i + n)]);
    }),
    fc.tuple(at, fragments(contentType)).map(([f, frag]): Mutation => (body) => {
      const i = pos(body, f);
      return Buffer.concat([body.subarray(0, i), frag, body.subarray(i)]);
    }),
    fc.tuple(at, at).map(([f, g]): Mutation => (body) => {
      const [i, j] = [pos(body, f), pos(body, g)].sort((a, b) => a - b);
      return Buffer.concat([body.subarray(0, j), body.subarray(i, j), body.subarray(j)]);
    }),
    at.map((f): Mutation => (body) => body.subarray(0, pos(body, f))),
  );
}

describe('multipart fuzzing', () => {
  it('survives random bytes', () => {
    const contentType = fc.oneof(
      fc.constantFrom('multipart/related; boundary=b', 'multipart/mixed; boundary="--"', 'multipart/mixed; boundary=" "'),
      fc.string({ maxLength: 60 }),
      fc.string({ maxLength: 10 }).map((b) => `multipart/related; boundary="${b}"`),
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
      fc.array(fc.constantFrom('--b', '--b--', '\r\n', '\n', 'A: 1', ':', ' ', '{}', 'x'), { maxLength: 60 })
        .map((tokens) => Buffer.from(tokens.join(''))),
    );
    fc.assert(fc.property(body, contentType, (b, ct) => decodeAll(b, ct)), { numRuns: 3000 });
  });

  it('survives mutations of valid bodies', () => {
    const seed = fc.constantFrom(...seeds).chain((s) =>
      fc.tuple(fc.constant(s), fc.array(mutation(s.contentType), { minLength: 1, maxLength: 5 })),
    );
    fc.assert(
      fc.property(seed, ([{ body, contentType }, mutations]) => {
        decodeAll(mutations.reduce((b, m) => m(b), body), contentType);
      }),
      { numRuns: 3000 },
    );
  });

  it('still decodes the unmutated seeds', () => {
    expect(decodeDocumentMultipart(related.body, related.contentType).attachments.size).toBe(2);
    expect(decodeRevisionsMixed(mixed.body, mixed.contentType)).toHaveLength(3);
  });
});
