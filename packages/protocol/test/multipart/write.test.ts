import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MultipartError, parseMultipart, writeMultipart } from '../../src/index.ts';

describe('writeMultipart', () => {
  it('writes CRLF-framed parts with the given boundary', () => {
    const out = writeMultipart(
      [
        { headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' },
        { headers: {}, body: Buffer.from([0, 255]) },
      ],
      'related',
      'xyz',
    );
    expect(out.contentType).toBe('multipart/related; boundary="xyz"');
    expect(out.body.equals(
      Buffer.concat([
        Buffer.from('--xyz\r\nContent-Type: application/json\r\n\r\n{"a":1}\r\n--xyz\r\n\r\n'),
        Buffer.from([0, 255]),
        Buffer.from('\r\n--xyz--'),
      ]),
    )).toBe(true);
  });

  it('draws a fresh random hex boundary by default', () => {
    const a = writeMultipart([], 'mixed');
    const b = writeMultipart([], 'mixed');
    expect(a.contentType).toMatch(/^multipart\/mixed; boundary="[0-9a-f]{32}"$/);
    expect(a.contentType).not.toBe(b.contentType);
    expect(parseMultipart(a.body, a.contentType)).toEqual([]);
  });

  it('encodes string bodies and header values as UTF-8', () => {
    const out = writeMultipart([{ headers: { 'X-Name': 'é☃' }, body: 'ünïcode' }], 'mixed');
    const [part] = parseMultipart(out.body, out.contentType);
    expect(part?.headers).toEqual({ 'x-name': 'é☃' });
    expect(part?.body.toString('utf8')).toBe('ünïcode');
  });

  it('refuses unsafe input', () => {
    const write = (headers: Record<string, string>, body: string, boundary?: string) => () =>
      writeMultipart([{ headers, body }], 'mixed', boundary);
    expect(write({}, 'has\r\n--xyz inside', 'xyz')).toThrow(MultipartError);
    expect(write({ 'X-A': '--xyz' }, '', 'xyz')).toThrow(MultipartError);
    expect(write({}, '', 'bad"boundary')).toThrow(MultipartError);
    expect(write({}, '', '')).toThrow(MultipartError);
    expect(write({ 'X-A': 'line\r\nInjected: 1' }, '')).toThrow(/line break/);
    expect(write({ 'Bad Name': 'v' }, '')).toThrow(/header name/);
  });

  it('round-trips through parseMultipart', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/);
    const value = fc.string({ unit: 'grapheme', maxLength: 40 }).map((v) => v.replace(/[\r\n\0]/g, '').trim());
    const part = fc.record({
      headers: fc.dictionary(token, value, { maxKeys: 4 }),
      body: fc.oneof(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), fc.string({ maxLength: 100 })),
    });
    fc.assert(
      fc.property(fc.array(part, { maxLength: 6 }), fc.constantFrom('mixed' as const, 'related' as const), (parts, subtype) => {
        const out = writeMultipart(parts, subtype);
        const parsed = parseMultipart(out.body, out.contentType);
        expect(parsed).toHaveLength(parts.length);
        parsed.forEach((got, i) => {
          const sent = parts[i]!;
          const expected = Object.create(null) as Record<string, string>;
          // Names differing only in case collapse into one joined header.
          for (const [name, v] of Object.entries(sent.headers)) {
            const key = name.toLowerCase();
            expected[key] = Object.hasOwn(expected, key) ? `${expected[key]}, ${v}` : v;
          }
          expect({ ...got.headers }).toEqual({ ...expected });
          expect(got.body.equals(Buffer.from(sent.body))).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });
});
