/**
 * Attachment bodies that writes in progress rely on. A write pins a digest before it checks or stores the
 * blob and unpins it once its commit has succeeded or failed; compaction never deletes a pinned digest, so it
 * cannot remove a body between a write's check and the commit that starts referencing it.
 */
export class BlobPins {
  readonly #counts = new Map<string, number>();

  pin(digest: string): void {
    this.#counts.set(digest, (this.#counts.get(digest) ?? 0) + 1);
  }

  unpin(digests: readonly string[]): void {
    for (const digest of digests) {
      const count = (this.#counts.get(digest) ?? 0) - 1;
      if (count > 0) this.#counts.set(digest, count);
      else this.#counts.delete(digest);
    }
  }

  has(digest: string): boolean {
    return this.#counts.has(digest);
  }
}
