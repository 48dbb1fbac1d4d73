import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlipError } from './errors.ts';
import { encodeUVarint, readUVarint, readUVarint64, uvarintLength, writeUVarint } from './varint.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const read = (bytes: Uint8Array): { value: number; length: number } => {
  const cursor = { pos: 0 };
  const value = readUVarint(bytes, cursor);
  return { value, length: cursor.pos };
};
const read64 = (bytes: Uint8Array): bigint => readUVarint64(bytes, { pos: 0 });

describe('varint', () => {
  it('encodes the LEB128 vectors worked out by hand', () => {
    expect(Buffer.from(encodeUVarint(0)).toString('hex')).toBe('00');
    expect(Buffer.from(encodeUVarint(1)).toString('hex')).toBe('01');
    expect(Buffer.from(encodeUVarint(127)).toString('hex')).toBe('7f');
    expect(Buffer.from(encodeUVarint(128)).toString('hex')).toBe('8001');
    expect(Buffer.from(encodeUVarint(300)).toString('hex')).toBe('ac02');
    expect(Buffer.from(encodeUVarint(50_000)).toString('hex')).toBe('d08603');
    expect(Buffer.from(encodeUVarint(2 ** 32)).toString('hex')).toBe('8080808010');
    expect(Buffer.from(encodeUVarint(Number.MAX_SAFE_INTEGER)).toString('hex')).toBe('ffffffffffffff0f');
    expect(Buffer.from(encodeUVarint(0xffff_ffff_ffff_ffffn)).toString('hex')).toBe('ffffffffffffffffff01');
  });

  it('decodes them back with their lengths', () => {
    expect(read(hex('00'))).toEqual({ value: 0, length: 1 });
    expect(read(hex('ac02 ff'))).toEqual({ value: 300, length: 2 });
    expect(read(hex('d08603'))).toEqual({ value: 50_000, length: 3 });
    expect(read(hex('8080808010'))).toEqual({ value: 2 ** 32, length: 5 });
    expect(read(hex('ffffffffffffff0f'))).toEqual({ value: Number.MAX_SAFE_INTEGER, length: 8 });
    expect(read64(hex('ffffffffffffffffff01'))).toBe(0xffff_ffff_ffff_ffffn);
  });

  it('accepts non-minimal encodings, as Fleece and Go do', () => {
    expect(read(hex('8000'))).toEqual({ value: 0, length: 2 });
    expect(read(hex('ff80808000'))).toEqual({ value: 127, length: 5 });
  });

  it('rejects truncated varints', () => {
    for (const bytes of ['', '80', 'ffff', 'ffffffffffffffffff']) {
      expect(() => read(hex(bytes))).toThrowError(BlipError);
      expect(() => read64(hex(bytes))).toThrowError(/truncated/);
    }
  });

  it('rejects values above 64 bits: a tenth byte above 1, or an eleventh byte', () => {
    expect(() => read64(hex('ffffffffffffffffff02'))).toThrowError(/overflows 64 bits/);
    expect(() => read64(hex('ffffffffffffffffff81 00'))).toThrowError(/overflows 64 bits/);
    expect(() => read(hex('80808080808080808080 01'))).toThrowError(/overflows 64 bits/);
  });

  it('rejects values that a JavaScript number cannot hold exactly', () => {
    expect(() => read(hex('8080808080808010'))).toThrowError(/2\^53/);
    expect(read64(hex('8080808080808010'))).toBe(2n ** 53n);
  });

  it('respects the end bound', () => {
    const cursor = { pos: 0 };
    expect(() => readUVarint(hex('ac02'), cursor, 1)).toThrowError(/truncated/);
    expect(cursor.pos).toBe(0);
  });

  it('round-trips every safe integer it is given', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const buf = new Uint8Array(10);
        const end = writeUVarint(buf, 0, n);
        expect(end).toBe(uvarintLength(n));
        const cursor = { pos: 0 };
        expect(readUVarint(buf, cursor)).toBe(n);
        expect(cursor.pos).toBe(end);
        expect(read64(buf)).toBe(BigInt(n));
      }),
    );
  });

  it('round-trips 64-bit bigints', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (n) => {
        expect(read64(encodeUVarint(n))).toBe(n);
      }),
    );
  });

  it('refuses to encode negative, fractional or unsafe numbers', () => {
    expect(() => encodeUVarint(-1)).toThrowError(RangeError);
    expect(() => encodeUVarint(1.5)).toThrowError(RangeError);
    expect(() => encodeUVarint(2 ** 53)).toThrowError(RangeError);
    expect(() => encodeUVarint(2n ** 64n)).toThrowError(RangeError);
  });
});
