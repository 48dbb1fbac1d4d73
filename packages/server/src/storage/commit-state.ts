import type { Cas, CommitResult, DocumentCommit } from './bucket.ts';

/** What a commit's cas check reads of a document before writing it. */
export interface CasState {
  bodyCas: Cas | null;
  metaCas: Cas | null;
  /** Sequence of the document's current changes-log entry (null without metadata). */
  seq: number | null;
  /** A metadata row exists and its winning revision is live. */
  live: boolean;
}

/** The result of a commit whose cas check failed (also the placeholder of an accepted one until it is done). */
export const CAS_MISMATCH: CommitResult = { ok: false, reason: 'cas_mismatch' };

/** Splits a batch of commits, in order, into segments in which no document id occurs twice. */
export function* distinctIdSegments(writes: readonly DocumentCommit[]): Generator<readonly DocumentCommit[]> {
  let start = 0;
  while (start < writes.length) {
    const seen = new Set<string>();
    let end = start;
    for (let w = writes[end]; w && !seen.has(w.id); w = writes[++end]) seen.add(w.id);
    yield writes.slice(start, end);
    start = end;
  }
}
