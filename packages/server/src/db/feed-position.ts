import { badRequest } from '../base/errors.ts';

/**
 * A position in a user's changes feed. Plain sequence P is {trigger: P, seq: FINAL}. When a user gains a
 * channel at sequence T (or loses one), the documents it must now receive (or purge) whose own sequences are
 * older than T are sent just before T, as compound positions "T:S" (S = the document's sequence), in the
 * manner of Sync Gateway's compound sequences. Order: by trigger, then seq; "T:S" < "T".
 */
export interface FeedPosition {
  trigger: number;
  seq: number;
}

export const FINAL = Number.MAX_SAFE_INTEGER;

export const plain = (seq: number): FeedPosition => ({ trigger: seq, seq: FINAL });

export function comparePositions(a: FeedPosition, b: FeedPosition): number {
  return a.trigger - b.trigger || a.seq - b.seq;
}

/** What a client sees: a number for plain positions, "T:S" for backfill and revocation entries. */
export function formatPosition(p: FeedPosition): number | string {
  return p.seq === FINAL ? p.trigger : `${p.trigger}:${p.seq}`;
}

const isSeq = (s: string): boolean => /^\d{1,16}$/.test(s) && Number.isSafeInteger(Number(s));

/**
 * Parses a `since` value: "N", "T:S", or Sync Gateway's three-part "L::T:S"/"L:T:S" forms (the low sequence
 * is ignored), optionally quoted. Unknown shapes are a 400.
 */
export function parsePosition(value: string): FeedPosition {
  const text = value.trim().replace(/^"|"$/g, '');
  const parts = text.split(':').filter((p, i, all) => p !== '' || i === all.length - 1);
  if (parts.length === 1 && isSeq(parts[0]!)) return plain(Number(parts[0]));
  if (parts.length >= 2 && parts.length <= 3 && parts.every(isSeq)) {
    const [trigger, seq] = parts.slice(-2).map(Number) as [number, number];
    if (seq < trigger) return { trigger, seq };
    return plain(Math.max(trigger, seq));
  }
  throw badRequest(`Invalid since value: ${value}`);
}
