import { badRequest } from '../base/errors.ts';
import type { ParsedRevId } from './types.ts';

const MAX_GENERATION = 2 ** 31 - 1;
const REV_ID_PATTERN = /^([1-9][0-9]{0,9})-([A-Za-z0-9]+)$/;

function tryParse(rev: unknown): ParsedRevId | null {
  if (typeof rev !== 'string') return null;
  const match = REV_ID_PATTERN.exec(rev);
  if (match === null) return null;
  const generation = Number(match[1]);
  const digest = match[2];
  if (digest === undefined || generation > MAX_GENERATION) return null;
  return { generation, digest };
}

/** Splits a `<generation>-<digest>` revision ID; throws a 400 when it is malformed. */
export function parseRevId(rev: string): ParsedRevId {
  const parsed = tryParse(rev);
  if (parsed === null) throw badRequest('Invalid revision ID');
  return parsed;
}

export function isValidRevId(rev: unknown): rev is string {
  return tryParse(rev) !== null;
}

export function generationOf(rev: string): number {
  return parseRevId(rev).generation;
}

export function digestOf(rev: string): string {
  return parseRevId(rev).digest;
}

export function formatRevId(generation: number, digest: string): string {
  return `${generation}-${digest}`;
}
