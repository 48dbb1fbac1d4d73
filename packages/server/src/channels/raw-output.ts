/**
 * Checks on what crosses the sandbox boundary: input depth before it goes in, the shape of the output after
 * it comes back (the user's code can tamper with JSON.stringify's behaviour inside the sandbox, e.g. through
 * a toJSON on Array.prototype).
 */
import type { RawSyncOutput, SyncRejection } from './sync-result.ts';

/** Deeper inputs are refused, the same with and without the sandbox (whose parser has a stack limit). */
export const MAX_INPUT_DEPTH = 200;

/** An error message when one of the inputs nests objects/arrays deeper than MAX_INPUT_DEPTH, else null. */
export function checkInputDepth(...inputs: unknown[]): string | null {
  for (const input of inputs) {
    if (exceeds(input, MAX_INPUT_DEPTH)) {
      return `Document is nested too deeply for the sync function (more than ${MAX_INPUT_DEPTH} levels)`;
    }
  }
  return null;
}

function exceeds(value: unknown, levelsLeft: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (levelsLeft === 0) return true;
  const items: unknown[] = Array.isArray(value) ? value : Object.values(value);
  for (const item of items) if (exceeds(item, levelsLeft - 1)) return true;
  return false;
}

export function parseRawSyncOutput(text: string): RawSyncOutput | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (!isStrings(v.ch) || !isStrings(v.warn) || !isPairs(v.acc) || !isPairs(v.roles)) return null;
  const out: RawSyncOutput = { ch: v.ch, acc: v.acc, roles: v.roles, warn: v.warn };
  if (v.exp !== undefined) {
    if (typeof v.exp !== 'number' && typeof v.exp !== 'string') return null;
    out.exp = v.exp;
  }
  if (v.rej !== undefined) {
    if (!isRejection(v.rej)) return null;
    out.rej = { status: v.rej.status, reason: v.rej.reason };
  }
  if (v.reset === 1) out.reset = 1;
  return out;
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

function isPairs(x: unknown): x is [string[], string[]][] {
  return Array.isArray(x) && x.every((p) => Array.isArray(p) && p.length === 2 && isStrings(p[0]) && isStrings(p[1]));
}

function isRejection(x: unknown): x is SyncRejection {
  if (x === null || typeof x !== 'object') return false;
  const r = x as Record<string, unknown>;
  return (r.status === 401 || r.status === 403 || r.status === 500) && typeof r.reason === 'string';
}
