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
function sortedKeys(object: object): string[] {
  const keys = Object.keys(object);
  return keys.some((k) => SURROGATE.test(k)) ? keys.sort(compareCodePoints) : keys.sort();
}

function isOmitted(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

function applyToJson(value: unknown, key: string): unknown {
  if (value !== null && typeof value === 'object') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return (toJSON as (k: string) => unknown).call(value, key);
  }
  return value;
}

function write(value: unknown, key: string, stack: Set<object>): string | undefined {
  const v = applyToJson(value, key);
  if (isOmitted(v)) return undefined;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (stack.has(v)) throw new TypeError('Converting circular structure to JSON');
  stack.add(v);
  try {
    if (Array.isArray(v)) {
      const items = v.map((item, index) => write(item, String(index), stack) ?? 'null');
      return `[${items.join(',')}]`;
    }
    if (v instanceof Number || v instanceof String || v instanceof Boolean) return JSON.stringify(v);
    const members: string[] = [];
    for (const k of sortedKeys(v)) {
      const encoded = write((v as Record<string, unknown>)[k], k, stack);
      if (encoded !== undefined) members.push(`${JSON.stringify(k)}:${encoded}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    stack.delete(v);
  }
}

/**
 * Deterministic JSON: object keys sorted by code point, no whitespace, values encoded as JSON.stringify would.
 * A value JSON.stringify cannot represent at the top level (undefined, a function) encodes as `null`.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '', new Set()) ?? 'null';
}
