import type { Collection, CommitResult, DocumentCommit } from '../../storage/bucket.ts';

/**
 * The event loop's own setImmediate, taken when the module loads: a test that fakes timers must not stop
 * writes from being committed.
 */
const nextTurn = setImmediate;

/** Most commits written in one storage transaction. */
const MAX_GROUP = 500;

interface Pending {
  commit: DocumentCommit;
  resolve: (result: CommitResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: single-document commits that arrive together (concurrent REST writes, the revisions of one
 * replication batch, each handled on its own) are written in one storage transaction, so they share one disk
 * sync instead of paying one each. Each commit keeps its own cas check and result, exactly as if written alone.
 */
class CommitGroup {
  readonly #collection: Collection;
  #queue: Pending[] = [];
  #scheduled = false;

  constructor(collection: Collection) {
    this.#collection = collection;
  }

  commit(commit: DocumentCommit): Promise<CommitResult> {
    return new Promise<CommitResult>((resolve, reject) => {
      this.#queue.push({ commit, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // After the I/O callbacks of this turn: the writes that came in together are all queued by then.
    nextTurn(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const group = this.#queue.splice(0, MAX_GROUP);
    if (this.#queue.length > 0) this.#schedule();
    if (group.length === 1) {
      const only = group[0]!;
      await this.#collection.commit(only.commit).then(only.resolve, only.reject);
      return;
    }
    let results: CommitResult[];
    try {
      results = await this.#collection.commitMany(group.map((p) => p.commit));
    } catch {
      // One commit's failure (e.g. its build threw) aborts the transaction: write them one by one, so that
      // only that one fails.
      for (const pending of group) await this.#collection.commit(pending.commit).then(pending.resolve, pending.reject);
      return;
    }
    group.forEach((pending, i) => pending.resolve(results[i]!));
  }
}

const groups = new WeakMap<Collection, CommitGroup>();

/** Commits one document, in one transaction with the other commits of the collection that arrive with it. */
export function groupCommit(collection: Collection, commit: DocumentCommit): Promise<CommitResult> {
  let group = groups.get(collection);
  if (!group) {
    group = new CommitGroup(collection);
    groups.set(collection, group);
  }
  return group.commit(commit);
}
