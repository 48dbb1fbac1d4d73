import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_PROPERTIES_BYTES, MessageType } from './constants.ts';
import { BlipError } from './errors.ts';
import { encodeMessagePayload, IncomingMessage, MessageAssembler } from './message.ts';
import { decodeProperties, encodeProperties } from './properties.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof BlipError)) throw err;
    return err.code;
  }
};

describe('properties', () => {
  it('encodes alternating NUL-terminated strings in insertion order, numbers in decimal', () => {
    const block = encodeProperties({ Profile: 'rev', sequence: 42, deleted: true, skipped: undefined });
    expect(Buffer.from(block).toString('latin1')).toBe('Profile\0rev\0sequence\x0042\0deleted\0true\0');
    expect(encodeProperties(undefined).length).toBe(0);
    expect(Buffer.from(encodeProperties([['é', '✓']])).toString('hex')).toBe('c3a900e29c9300');
  });

  it('round-trips any strings without NUL', () => {
    const str = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(str, str), { selector: ([k]) => k, maxLength: 20 }), (entries) => {
        const decoded = decodeProperties(encodeProperties(entries));
        expect(Object.entries(decoded)).toEqual(entries);
      }),
    );
  });

  it('keeps the first value of a repeated key and treats __proto__ as data', () => {
    const props = decodeProperties(Buffer.from('a\x001\0a\x002\0__proto__\0x\0', 'latin1'));
    expect(props['a']).toBe('1');
    expect(props['__proto__']).toBe('x');
    expect(Object.getPrototypeOf(props)).toBe(null);
  });

  it('rejects malformed blocks with bad-properties', () => {
    expect(codeOf(() => decodeProperties(Buffer.from('a\0b', 'latin1')))).toBe('bad-properties');
    expect(codeOf(() => decodeProperties(Buffer.from('a\0b\0c\0', 'latin1')))).toBe('bad-properties');
    expect(codeOf(() => decodeProperties(hex('ff00 6100')))).toBe('bad-properties');
    expect(codeOf(() => decodeProperties(hex('c3 00 61 00')))).toBe('bad-properties');
  });

  it('refuses to encode NUL characters or more than 100 KiB', () => {
    expect(codeOf(() => encodeProperties({ 'a\0': 'b' }))).toBe('invalid-message');
    expect(codeOf(() => encodeProperties({ a: 'b\0' }))).toBe('invalid-message');
    expect(codeOf(() => encodeProperties({ a: 'x'.repeat(MAX_PROPERTIES_BYTES) }))).toBe('invalid-message');
    expect(encodeProperties({ a: 'x'.repeat(MAX_PROPERTIES_BYTES - 3) }).length).toBe(MAX_PROPERTIES_BYTES);
  });
});

describe('message payload', () => {
  it('is the varint properties length, the properties, then the body', () => {
    expect(Buffer.from(encodeMessagePayload({ Profile: 'x' }, 'hi')).toString('hex')).toBe('0a50726f66696c650078006869');
    expect(Buffer.from(encodeMessagePayload(undefined, undefined)).toString('hex')).toBe('00');
    const long = encodeMessagePayload({ k: 'v'.repeat(200) }, new Uint8Array([1, 2]));
    expect(Buffer.from(long.subarray(0, 2)).toString('hex')).toBe('cb01');
    expect(long.length).toBe(2 + 203 + 2);
  });
});

describe('MessageAssembler', () => {
  const limits = { maxBodyBytes: 1000 };
  const payload = encodeMessagePayload({ Profile: 'getCheckpoint', client: 'x' }, 'body bytes');

  it('assembles a message split anywhere after the properties length', () => {
    for (let cut = 1; cut < payload.length; cut++) {
      const asm = new MessageAssembler(3, limits);
      asm.add(payload.subarray(0, cut), MessageType.request | 0x40);
      asm.add(payload.subarray(cut), MessageType.request);
      const msg = asm.finish();
      expect(msg.number).toBe(3);
      expect(msg.flags).toBe(MessageType.request);
      expect(msg.properties).toEqual({ Profile: 'getCheckpoint', client: 'x' });
      expect(msg.bodyText()).toBe('body bytes');
    }
  });

  it('needs the properties length in the first frame', () => {
    const asm = new MessageAssembler(1, limits);
    expect(codeOf(() => asm.add(hex('80'), 0))).toBe('bad-frame');
    expect(codeOf(() => new MessageAssembler(1, limits).add(new Uint8Array(0), 0))).toBe('bad-frame');
  });

  it('rejects a properties length above 100 KiB before allocating it', () => {
    expect(codeOf(() => new MessageAssembler(1, limits).add(hex('81a0 06'), 0))).toBe('bad-properties');
    expect(codeOf(() => new MessageAssembler(1, limits).add(hex('ffffffff0f'), 0))).toBe('bad-properties');
  });

  it('rejects a message that ends inside its properties', () => {
    const asm = new MessageAssembler(1, limits);
    asm.add(payload.subarray(0, 5), 0);
    expect(codeOf(() => asm.finish())).toBe('bad-properties');
  });

  it('enforces the body limit', () => {
    const asm = new MessageAssembler(1, { maxBodyBytes: 10 });
    asm.add(hex('00'), 0x40);
    asm.add(new Uint8Array(10), 0x40);
    expect(codeOf(() => asm.add(new Uint8Array(1), 0))).toBe('limit-exceeded');
  });
});

describe('IncomingMessage', () => {
  it('reads an error reply like LiteCore: default domain BLIP, code from Error-Code, body as message', () => {
    const err = new IncomingMessage(1, MessageType.error, { 'Error-Code': '404' }, Buffer.from('missing'));
    expect(err.error).toEqual({ domain: 'BLIP', code: 404, message: 'missing' });
    const bad = new IncomingMessage(1, MessageType.error, { 'Error-Domain': 'HTTP', 'Error-Code': 'x' }, Buffer.alloc(0));
    expect(bad.error).toEqual({ domain: 'HTTP', code: 0, message: '' });
    expect(new IncomingMessage(1, MessageType.response, {}, Buffer.alloc(0)).error).toBeUndefined();
  });

  it('parses a JSON body', () => {
    const msg = new IncomingMessage(1, MessageType.response, {}, Buffer.from('{"a":[1]}'));
    expect(msg.bodyJSON()).toEqual({ a: [1] });
    expect(new IncomingMessage(1, 1, {}, Buffer.alloc(0)).bodyJSON()).toBeUndefined();
  });
});
