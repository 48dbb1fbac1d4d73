import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, compareCodePoints } from './canonical-json.ts';

/** Rebuilds a JSON value with every object's keys inserted in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reverseKeys(v)]));
  }
  return value;
}

const anyCodePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .filter((c) => c < 0xd800 || c > 0xdfff)
  .map((c) => String.fromCodePoint(c));
const interestingChar = fc.oneof(anyCodePoint, fc.constantFrom('a', 'b', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}'));

describe('canonicalJson', () => {
  it.each<[string, unknown, string]>([
    ['scalars', [1, 'a', true, null], '[1,"a",true,null]'],
    ['sorted keys', { b: 1, a: 2, c: { z: 1, y: [3, 2, 1] } }, '{"a":2,"b":1,"c":{"y":[3,2,1],"z":1}}'],
    ['integer-like keys sort as strings', { 9: 'n', 10: 't', a: 'a' }, '{"10":"t","9":"n","a":"a"}'],
    ['code point order for astral characters', { '\u{1F600}': 1, '\uFFFF': 2 }, '{"\uFFFF":2,"\u{1F600}":1}'],
    ['undefined members dropped', { a: undefined, b: 1, f: () => 1 }, '{"b":1}'],
    ['undefined in arrays becomes null', [undefined, () => 1], '[null,null]'],
    ['number formatting', [1e21, -0, 0.1, 1.5e-7, Number.NaN, Infinity], '[1e+21,0,0.1,1.5e-7,null,null]'],
    ['string escapes', { 'q"k': 'line\n\u2028' }, JSON.stringify({ 'q"k': 'line\n\u2028' })],
    ['toJSON', { d: new Date(0) }, '{"d":"1970-01-01T00:00:00.000Z"}'],
    ['empty containers', { a: {}, b: [] }, '{"a":{},"b":[]}'],
    ['top-level undefined', undefined, 'null'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('keeps an own __proto__ key as data', () => {
    const value = JSON.parse('{"__proto__":{"x":1},"a":1}') as unknown;
    expect(canonicalJson(value)).toBe('{"__proto__":{"x":1},"a":1}');
  });

  it('rejects cycles like JSON.stringify', () => {
    const value: Record<string, unknown> = {};
    value.self = value;
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });

  it('round-trips JSON values and ignores key insertion order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const encoded = canonicalJson(value);
        expect(JSON.parse(encoded)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(reverseKeys(value))).toBe(encoded);
        expect(encoded).not.toMatch(/^\s|\s$/);
      }),
      { numRuns: 200 },
    );
  });

  it('compareCodePoints agrees with comparing code point arrays', () => {
    fc.assert(
      fc.property(fc.string({ unit: interestingChar }), fc.string({ unit: interestingChar }), (a, b) => {
        const cpa = [...a].map((c) => c.codePointAt(0) ?? 0);
        const cpb = [...b].map((c) => c.codePointAt(0) ?? 0);
        let expected = 0;
        for (let i = 0; expected === 0 && i < Math.max(cpa.length, cpb.length); i++) {
          expected = (cpa[i] ?? -1) - (cpb[i] ?? -1);
        }
        return Math.sign(compareCodePoints(a, b)) === Math.sign(expected);
      }),
    );
  });
});
