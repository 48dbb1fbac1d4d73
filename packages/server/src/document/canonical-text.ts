import { compareCodePoints } from './canonical-json.ts';

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const SURROGATE = /[\uD800-\uDFFF]/;
/** Deeper input is left to canonicalJson (request bodies are at most 512 deep). */
const MAX_DEPTH = 512;

class TooDeep extends Error {}

/**
 * Reorders the members of JSON.stringify output into canonical order. It relies on that output's form: no
 * whitespace, no duplicate keys, strings quoted the same way canonicalJson quotes them.
 */
class Reorderer {
  #pos = 0;
  /** Whether the value just read came out different from its input text. */
  #changed = false;

  constructor(private readonly text: string) {}

  run(): string {
    return this.#value(0);
  }

  #value(depth: number): string {
    if (depth > MAX_DEPTH) throw new TooDeep();
    const { text } = this;
    const c = text.charCodeAt(this.#pos);
    if (c === OPEN_OBJECT) return this.#object(depth);
    if (c === OPEN_ARRAY) return this.#array(depth);
    const start = this.#pos;
    if (c === QUOTE) {
      this.#pos = this.#stringEnd(start);
    } else {
      let i = start;
      for (let d = c; i < text.length && d !== COMMA && d !== CLOSE_OBJECT && d !== CLOSE_ARRAY; d = text.charCodeAt(++i));
      this.#pos = i;
    }
    this.#changed = false;
    return text.slice(start, this.#pos);
  }

  /** Index after the closing quote of the string starting at `start`. */
  #stringEnd(start: number): number {
    const { text } = this;
    for (let from = start + 1; ; ) {
      const quote = text.indexOf('"', from);
      if (quote === -1) throw new Error('unterminated string in JSON text');
      let slash = quote - 1;
      while (text.charCodeAt(slash) === BACKSLASH) slash--;
      if ((quote - 1 - slash) % 2 === 0) return quote + 1;
      from = quote + 1;
    }
  }

  #array(depth: number): string {
    const { text } = this;
    const start = this.#pos++;
    const items: string[] = [];
    let changed = false;
    if (text.charCodeAt(this.#pos) !== CLOSE_ARRAY) {
      for (;;) {
        items.push(this.#value(depth + 1));
        changed ||= this.#changed;
        if (text.charCodeAt(this.#pos++) !== COMMA) break;
      }
    } else {
      this.#pos++;
    }
    this.#changed = changed;
    return changed ? `[${items.join(',')}]` : text.slice(start, this.#pos);
  }

  #object(depth: number): string {
    const { text } = this;
    const start = this.#pos++;
    const keys: string[] = [];
    const members: string[] = [];
    let changed = false;
    let sorted = true;
    let surrogates = false;
    if (text.charCodeAt(this.#pos) !== CLOSE_OBJECT) {
      for (;;) {
        const keyStart = this.#pos;
        this.#pos = this.#stringEnd(keyStart);
        const quoted = text.slice(keyStart, this.#pos);
        const key = quoted.includes('\\') ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);
        surrogates ||= SURROGATE.test(key);
        if (keys.length > 0 && !(keys[keys.length - 1]! < key)) sorted = false;
        this.#pos++;
        const value = this.#value(depth + 1);
        changed ||= this.#changed;
        keys.push(key);
        members.push(`${quoted}:${value}`);
        if (text.charCodeAt(this.#pos++) !== COMMA) break;
      }
    } else {
      this.#pos++;
    }
    if (sorted && !surrogates && !changed) {
      this.#changed = false;
      return text.slice(start, this.#pos);
    }
    const order = keys.map((_, i) => i);
    order.sort(surrogates ? (a, b) => compareCodePoints(keys[a]!, keys[b]!) : (a, b) => (keys[a]! < keys[b]! ? -1 : 1));
    this.#changed = true;
    return `{${order.map((i) => members[i]!).join(',')}}`;
  }
}

/**
 * canonicalJson(value) computed from `json` = JSON.stringify(value), without walking the value again. Null when
 * the value is nested deeper than MAX_DEPTH.
 */
export function canonicalFromJson(json: string): string | null {
  try {
    return new Reorderer(json).run();
  } catch (err) {
    if (err instanceof TooDeep) return null;
    throw err;
  }
}
