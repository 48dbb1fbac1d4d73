/**
 * Watching an admin `_changes` feed for a known set of documents `${prefix}-0` .. `${prefix}-${count - 1}`: when
 * each first appears, and an error when none new has come for a while. Used by the `import` and `postgres` sections.
 */
import { describeFailure, type HttpClient } from '../http-client.ts';

const LONGPOLL_TIMEOUT_MS = 1_000;
/** Give up waiting for documents to appear after this long without a new one. */
const STALL_MS = 60_000;

const int = (x: number): string => Math.round(x).toLocaleString('en-US');

/** Tracks which documents `${prefix}-${i}` (0 <= i < count) have arrived, and when. */
export class Arrivals {
  readonly count: number;
  readonly #head: string;
  readonly #seen: Uint8Array;
  readonly #onSeen: (index: number, at: number) => void;
  /** Documents seen so far. */
  found = 0;
  /** Time of the last new document (or of the start). */
  lastNew = performance.now();
  /** Time of the last new document (0 before the first). */
  lastAt = 0;

  constructor(prefix: string, count: number, onSeen: (index: number, at: number) => void) {
    this.count = count;
    this.#head = `${prefix}-`;
    this.#seen = new Uint8Array(count);
    this.#onSeen = onSeen;
  }

  get complete(): boolean {
    return this.found >= this.count;
  }

  /** Records `id` seen at `at`: when it is one of the set, seen for the first time, calls onSeen and returns true. */
  see(id: string, at: number): boolean {
    if (!id.startsWith(this.#head)) return false;
    const index = Number(id.slice(this.#head.length));
    if (!Number.isInteger(index) || index < 0 || index >= this.count || this.#seen[index]) return false;
    this.#seen[index] = 1;
    this.found += 1;
    this.lastNew = at;
    this.lastAt = at;
    this.#onSeen(index, at);
    return true;
  }

  /** None new for longer than STALL_MS at `now`. */
  stalled(now: number): boolean {
    return now - this.lastNew > STALL_MS;
  }

  /** The error for a stall, e.g. `/db: 3 of 10 documents on _changes, none new for 60 s`. */
  stallError(db: string, feed: string): Error {
    return new Error(`/${db}: ${int(this.found)} of ${int(this.count)} documents on ${feed}, none new for ${STALL_MS / 1000} s`);
  }
}

export interface Watch {
  /** Resolves with the time the last document was seen. */
  readonly done: Promise<number>;
  /** Stops following (the promise then resolves or rejects soon). */
  stop(): void;
}

/** Follows the admin `_changes` feed (longpoll loop) and reports when each document `${prefix}-${i}` first appears. */
export function watchLongpoll(admin: HttpClient, db: string, since: number | string, prefix: string, count: number, onSeen: (index: number, at: number) => void): Watch {
  let stopped = false;
  const done = (async () => {
    const arrivals = new Arrivals(prefix, count, onSeen);
    while (!arrivals.complete) {
      if (stopped) throw new Error('stopped');
      const reqPath = `/${db}/_changes?feed=longpoll&since=${encodeURIComponent(String(since))}&timeout=${LONGPOLL_TIMEOUT_MS}`;
      const res = await admin.request('GET', reqPath);
      const at = performance.now();
      if (res.status !== 200) throw describeFailure('GET', reqPath, res);
      const body = JSON.parse(res.text) as { results: Array<{ id: string }>; last_seq: number | string };
      for (const { id } of body.results) arrivals.see(id, at);
      since = body.last_seq;
      if (arrivals.stalled(at)) throw arrivals.stallError(db, '_changes');
    }
    return arrivals.lastAt;
  })();
  done.catch(() => {});
  return { done, stop: () => void (stopped = true) };
}

export async function updateSeq(admin: HttpClient, db: string): Promise<number | string> {
  const res = await admin.json<{ update_seq: number | string }>('GET', `/${db}/`);
  if (res.status !== 200) throw new Error(`GET /${db}/: HTTP ${res.status}`);
  return res.data.update_seq;
}
