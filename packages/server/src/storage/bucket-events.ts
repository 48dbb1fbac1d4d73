import type { BucketEvent } from './bucket.ts';

/** The listeners of Bucket.watch(). A throwing listener is isolated: the others still run. */
export class BucketEventHub {
  readonly #listeners = new Set<(event: BucketEvent) => void>();

  get size(): number {
    return this.#listeners.size;
  }

  listen(listener: (event: BucketEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(event: BucketEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; storage events keep flowing to the rest.
      }
    }
  }
}
