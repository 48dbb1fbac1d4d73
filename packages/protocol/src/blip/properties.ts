import { MAX_PROPERTIES_BYTES } from './constants.ts';
import { BlipError } from './errors.ts';

/**
 * Message properties: alternating NUL-terminated UTF-8 keys and values. BLIP 3 sends every string
 * literally; the one-byte abbreviations of common strings that BLIP 2 had were removed in 3.0a2
 * (`docs/BLIP Protocol.md`), and LiteCore's `MessageBuilder::writeTokenizedString` writes plain strings.
 */

/** Decoded properties: a null-prototype object, so keys such as `__proto__` are plain data. */
export type BlipProperties = Readonly<Record<string, string>>;

/** What callers may pass: values that are numbers or booleans are written in decimal / as `true`/`false`. */
export type PropertiesInit =
  | Readonly<Record<string, string | number | boolean | undefined>>
  | Iterable<readonly [string, string | number | boolean]>;

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Encodes properties (without the length prefix). Throws BlipError `invalid-message` on NUL or oversize. */
export function encodeProperties(init: PropertiesInit | undefined): Uint8Array {
  if (init === undefined) return EMPTY;
  const strings: string[] = [];
  let size = 0;
  const add = (key: string, value: string | number | boolean): void => {
    const text = typeof value === 'string' ? value : String(value);
    if (key.includes('\0') || text.includes('\0')) {
      throw new BlipError('invalid-message', `property ${JSON.stringify(key)} contains a NUL character`);
    }
    strings.push(key, text);
    size += Buffer.byteLength(key) + Buffer.byteLength(text) + 2;
  };
  if (isIterable(init)) {
    for (const [key, value] of init) add(key, value);
  } else {
    for (const key of Object.keys(init)) {
      const value = init[key];
      if (value !== undefined) add(key, value);
    }
  }
  if (size > MAX_PROPERTIES_BYTES) {
    throw new BlipError('invalid-message', `properties take ${size} bytes, more than ${MAX_PROPERTIES_BYTES}`);
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const s of strings) {
    pos += out.write(s, pos, 'utf8');
    out[pos++] = 0;
  }
  return out;
}

/**
 * Decodes a properties block. It must be empty or end with NUL, hold an even number of strings and be
 * valid UTF-8; otherwise throws BlipError `bad-properties`. When a key repeats, the first value wins,
 * as in LiteCore's `MessageIn::property`.
 */
export function decodeProperties(block: Uint8Array): BlipProperties {
  const props = Object.create(null) as Record<string, string>;
  const n = block.length;
  if (n === 0) return props;
  if (block[n - 1] !== 0) throw new BlipError('bad-properties', 'message properties are not NUL-terminated');
  const buf = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, n);
  let key: string | undefined;
  let start = 0;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const byte = buf[i]!;
    if (byte !== 0) {
      if (byte >= 0x80) ascii = false;
      continue;
    }
    const text = ascii ? buf.toString('latin1', start, i) : decodeUtf8(buf, start, i);
    if (key === undefined) {
      key = text;
    } else {
      if (!(key in props)) props[key] = text;
      key = undefined;
    }
    start = i + 1;
    ascii = true;
  }
  if (key !== undefined) throw new BlipError('bad-properties', 'message properties have a key without a value');
  return props;
}

function decodeUtf8(buf: Buffer, start: number, end: number): string {
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    throw new BlipError('bad-properties', 'message properties are not valid UTF-8');
  }
}

function isIterable(value: unknown): value is Iterable<readonly [string, string | number | boolean]> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}
