/** Orders strings by Unicode code point, which differs from the default UTF-16 code unit order for astral characters. */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const l = left.next();
    const r = right.next();
    if (l.done === true) return r.done === true ? 0 : -1;
    if (r.done === true) return 1;
    const diff = (l.value.codePointAt(0) ?? 0) - (r.value.codePointAt(0) ?? 0);
    if (diff !== 0) return diff;
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Keys in code point order; the default UTF-16 sort agrees with it unless a key holds a surrogate pair. */
export function canonicalKeys(object: object): string[] {
  const keys = Object.keys(object);
  if (keys.length < 2) return keys;
  for (const key of keys) if (SURROGATE.test(key)) return keys.sort(compareCodePoints);
  return keys.sort();
}

function isOmitted(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

/** Deeper than any JSON a client can send (request bodies are parsed with a depth check); stops cycles too. */
const MAX_DEPTH = 2000;

function write(value: unknown, key: string, depth: number): string | undefined {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON: (k: string) => unknown }).toJSON(key);
  }
  if (isOmitted(v)) return undefined;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (depth > MAX_DEPTH) throw new TypeError('Converting circular or too deeply nested structure to JSON');
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += `${i === 0 ? '' : ','}${write(v[i], String(i), depth + 1) ?? 'null'}`;
    return `${out}]`;
  }
  if (v instanceof Number || v instanceof String || v instanceof Boolean) return JSON.stringify(v);
  let out = '{';
  let first = true;
  for (const k of canonicalKeys(v)) {
    const encoded = write((v as Record<string, unknown>)[k], k, depth + 1);
    if (encoded === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${encoded}`;
    first = false;
  }
  return `${out}}`;
}

/** Returned by sortedCopy for values it does not handle. */
export const NOT_PLAIN: unique symbol = Symbol('not plain JSON data');

/** Array-index keys are listed first by property order whatever the insertion order, so a copy cannot sort them. */
function startsWithDigit(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57;
}

/**
 * A copy of JSON-like data whose objects have their keys inserted in canonical order, so that JSON.stringify of
 * the copy is the canonical JSON of the value. NOT_PLAIN for anything JSON.stringify would treat differently
 * from `write`: other prototypes (Date, boxed primitives...), toJSON methods, array-index or `__proto__` keys.
 */
export function sortedCopy(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return NOT_PLAIN;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const list = value as unknown[];
    const out = new Array<unknown>(list.length);
    for (let i = 0; i < list.length; i++) {
      const item = sortedCopy(list[i], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      out[i] = item;
    }
    return out;
  }
  if (proto !== Object.prototype || typeof (value as { toJSON?: unknown }).toJSON === 'function') return NOT_PLAIN;
  const object = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of canonicalKeys(object)) {
    if (startsWithDigit(key) || key === '__proto__') return NOT_PLAIN;
    const item = sortedCopy(object[key], depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    out[key] = item;
  }
  return out;
}

/**
 * Deterministic JSON: object keys sorted by code point, no whitespace, values encoded as JSON.stringify would.
 * A value JSON.stringify cannot represent at the top level (undefined, a function) encodes as `null`.
 */
export function canonicalJson(value: unknown): string {
  const copy = sortedCopy(value, 0);
  if (copy !== NOT_PLAIN) return JSON.stringify(copy) ?? 'null';
  return write(value, '', 0) ?? 'null';
}
