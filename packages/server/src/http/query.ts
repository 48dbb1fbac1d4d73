import { badRequest } from '../base/errors.ts';

/** Typed access to query parameters, with CouchDB's JSON-encoded values and 400 on bad input. */
export class Query {
  constructor(readonly params: URLSearchParams) {}

  has(name: string): boolean {
    return this.params.has(name);
  }

  string(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  bool(name: string, fallback = false): boolean {
    const value = this.params.get(name);
    if (value === null) return fallback;
    if (value === 'true' || value === '') return true;
    if (value === 'false') return false;
    throw badRequest(`Query parameter "${name}" must be true or false`);
  }

  int(name: string, opts: { min?: number; max?: number } = {}): number | undefined {
    const value = this.params.get(name);
    if (value === null) return undefined;
    if (!/^-?\d+$/.test(value)) throw badRequest(`Query parameter "${name}" must be an integer`);
    const n = Number(value);
    if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max) || !Number.isSafeInteger(n)) {
      throw badRequest(`Query parameter "${name}" is out of range`);
    }
    return n;
  }

  json(name: string): unknown {
    const value = this.params.get(name);
    if (value === null) return undefined;
    try {
      return JSON.parse(value);
    } catch {
      throw badRequest(`Query parameter "${name}" must be valid JSON`);
    }
  }

  /** A key parameter (startkey, endkey...): JSON string, or a bare string as Sync Gateway also accepts. */
  key(...names: string[]): string | undefined {
    for (const name of names) {
      const value = this.params.get(name);
      if (value === null) continue;
      try {
        const parsed: unknown = JSON.parse(value);
        if (typeof parsed === 'string') return parsed;
      } catch {
        // fall through: a bare string
      }
      return value;
    }
    return undefined;
  }

  /** A list of strings given as a JSON array or as comma-separated values. */
  stringList(name: string): string[] | undefined {
    const value = this.params.get(name);
    if (value === null) return undefined;
    if (value.startsWith('[')) {
      const parsed = this.json(name);
      if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) throw badRequest(`Query parameter "${name}" must be an array of strings`);
      return parsed as string[];
    }
    return value.split(',').filter((v) => v.length > 0);
  }
}
