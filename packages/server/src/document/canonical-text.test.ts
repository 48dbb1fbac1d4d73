import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import { canonicalFromJson } from './canonical-text.ts';

const trickyKey = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('__proto__', 'toJSON', '0', '10', '9', '\u{1F600}', '\uFFFF', '\uD800', 'q"uote', 'back\\slash', '\u0001', ''),
);
const trickyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('\\', '"', '\\"', 'a\\\\"b', '\uDC00'));
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    trickyString,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(trickyKey, tie('v'), { maxKeys: 5 }),
  ),
})).v;

describe('canonicalFromJson', () => {
  it('reorders JSON.stringify output into canonicalJson', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalFromJson(JSON.stringify(v) ?? 'null')).toBe(canonicalJson(v));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['{"b":1,"a":{"d":[{"z":1,"y":2}],"c":"}"}}', '{"a":{"c":"}","d":[{"y":2,"z":1}]},"b":1}'],
    ['{"9":1,"10":2,"a\\"":3}', '{"10":2,"9":1,"a\\"":3}'],
    ['{"\\ud83d\\ude00":1,"\uffff":2}', '{"\uffff":2,"\\ud83d\\ude00":1}'],
    ['[{},[],"a\\\\",{"b":"\\\\\\""}]', '[{},[],"a\\\\",{"b":"\\\\\\""}]'],
  ])('%s', (input, expected) => {
    expect(canonicalFromJson(input)).toBe(expected);
  });

  it('leaves values nested deeper than request bodies can be to canonicalJson', () => {
    expect(canonicalFromJson(`${'['.repeat(600)}${']'.repeat(600)}`)).toBeNull();
    expect(canonicalFromJson(`${'['.repeat(500)}${']'.repeat(500)}`)).toBe(`${'['.repeat(500)}${']'.repeat(500)}`);
  });
});
