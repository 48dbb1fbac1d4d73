import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSynclineError } from '../base/errors.ts';
import { digestOf, generationOf, isValidRevId, parseRevId } from './rev-id.ts';

describe('parseRevId', () => {
  it.each([
    ['1-a', 1, 'a'],
    ['1-967a00dff5e02add41819138abb3284d', 1, '967a00dff5e02add41819138abb3284d'],
    ['12-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c', 12, '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c'],
    ['3-ABCdef123', 3, 'ABCdef123'],
    ['2147483647-x', 2147483647, 'x'],
  ])('accepts %s', (rev, generation, digest) => {
    expect(parseRevId(rev)).toEqual({ generation, digest });
    expect(isValidRevId(rev)).toBe(true);
    expect(generationOf(rev)).toBe(generation);
    expect(digestOf(rev)).toBe(digest);
  });

  it.each(['', '0-x', 'abc', '1-', '-1-x', '1', '-', '01-a', ' 1-a', '1-a ', '1 -a', '1-a b', '1-a-b', '1.5-a', '1e3-a',
    '+1-a', '2147483648-a', '99999999999-a', '1-a_b', '1-é', '1-a\n', '\u0661-a'])('rejects %j', (rev) => {
    expect(() => parseRevId(rev)).toThrowError(expect.objectContaining({ status: 400, error: 'bad_request' }));
    expect(isValidRevId(rev)).toBe(false);
  });

  it('rejects non-strings', () => {
    for (const value of [null, undefined, 1, {}, ['1-a']]) expect(isValidRevId(value)).toBe(false);
  });

  it('only ever throws a 400 SynclineError, and round-trips what it accepts', () => {
    const candidate = fc.oneof(
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
      fc.string({ unit: 'grapheme-ascii' }),
      fc.tuple(fc.string({ unit: fc.constantFrom('0', '1', '9', '-', ' ') }), fc.string()).map(([a, b]) => a + b),
      fc.tuple(fc.integer({ min: -5, max: 2 ** 32 }), fc.stringMatching(/^[0-9a-zA-Z_-]{0,8}$/)).map(([g, d]) => `${g}-${d}`),
    );
    fc.assert(
      fc.property(candidate, (rev) => {
        try {
          const { generation, digest } = parseRevId(rev);
          return `${generation}-${digest}` === rev && Number.isSafeInteger(generation) && generation >= 1;
        } catch (err) {
          return isSynclineError(err) && err.status === 400;
        }
      }),
      { numRuns: 500 },
    );
  });
});
