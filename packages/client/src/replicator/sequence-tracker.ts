/**
 * Remote sequences announced in `changes`, in arrival order, until each is handled (LiteCore's
 * RemoteSequenceSet): the checkpoint may advance only to the last sequence before the first unfinished one.
 * Sequences are opaque JSON values; they are matched by their JSON text.
 */
export class SequenceTracker {
  readonly #pending = new Map<string, { value: unknown; done: boolean }>();
  #since: unknown;

  constructor(since: unknown) {
    this.#since = since;
  }

  /** The position everything up to which is handled. */
  get since(): unknown {
    return this.#since;
  }

  get size(): number {
    return this.#pending.size;
  }

  add(value: unknown): void {
    const key = JSON.stringify(value);
    if (!this.#pending.has(key)) this.#pending.set(key, { value, done: false });
  }

  /** Marks a sequence handled; returns true if the checkpoint position moved. */
  complete(value: unknown): boolean {
    const entry = this.#pending.get(JSON.stringify(value));
    if (!entry) return false;
    entry.done = true;
    let moved = false;
    for (const [key, item] of this.#pending) {
      if (!item.done) break;
      this.#since = item.value;
      this.#pending.delete(key);
      moved = true;
    }
    return moved;
  }
}

/** A `sequence` property back to its value: JSON when it parses (e.g. `7`, `"9:7"`), else the raw text. */
export function parseSequenceProperty(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
