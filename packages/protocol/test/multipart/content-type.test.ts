import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseContentType } from '../../src/index.ts';

describe('parseContentType', () => {
  it('reads a quoted boundary', () => {
    expect(parseContentType('multipart/related; boundary="abc 123"')).toEqual({
      type: 'multipart/related',
      params: { boundary: 'abc 123' },
    });
  });

  it('lower-cases the type and parameter names but not values', () => {
    const { type, params } = parseContentType('  Multipart/Mixed ;BOUNDARY=AbC ; Charset = UTF-8 ');
    expect(type).toBe('multipart/mixed');
    expect(params).toEqual({ boundary: 'AbC', charset: 'UTF-8' });
  });

  it('handles escapes and separators inside quoted strings', () => {
    const { type, params } = parseContentType('attachment; filename="a \\"b\\" c;d=e.txt"; size=3');
    expect(type).toBe('attachment');
    expect(params).toEqual({ filename: 'a "b" c;d=e.txt', size: '3' });
  });

  it('is lenient with junk', () => {
    expect(parseContentType('')).toEqual({ type: '', params: {} });
    expect(parseContentType('text/plain;;; flag; =x; a="unterminated')).toEqual({
      type: 'text/plain',
      params: { a: 'unterminated' },
    });
    expect(parseContentType('a/b; x=1; x=2; y="q" trailing; z').params).toEqual({ x: '1', y: 'q' });
  });

  it('treats __proto__ as an ordinary parameter', () => {
    const { params } = parseContentType('a/b; __proto__=x');
    expect(Object.keys(params)).toEqual(['__proto__']);
    expect(params['__proto__']).toBe('x');
  });

  it('never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (header) => {
        const parsed = parseContentType(header);
        expect(typeof parsed.type).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });
});
