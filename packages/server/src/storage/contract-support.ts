import type { Bucket, Cas, Collection, CommitResult, DocumentCommit, Grant, MutationRecord } from './bucket.ts';

/** Writes to a collection's documents table the way a server app does (plain SQL, own connection). */
export interface DirectWriter {
  insert(id: string, body: string): Promise<void>;
  update(id: string, body: string): Promise<void>;
  delete(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface BucketContractOptions {
  /** Enables the direct-write tests: a writer for the default collection of the given bucket. */
  directWriter?: (bucket: Bucket) => Promise<DirectWriter>;
}

/** State shared by the contract suites; refreshed before each test. */
export interface ContractEnv {
  bucket: Bucket;
  coll: Collection;
  readonly options: BucketContractOptions;
}

export interface Revision {
  body?: string | null;
  rev?: string;
  channels?: string[];
  removed?: string[];
  deleted?: boolean;
  grants?: Grant[];
}

export interface CommitOptions extends Revision {
  expectedBodyCas: Cas | null;
  expectedMetaCas: Cas | null;
}

/** A commit whose metadata records the sequence it was built with (so tests can check build's argument). */
export function makeCommit(id: string, opts: CommitOptions): DocumentCommit & { builtWith: number[] } {
  const builtWith: number[] = [];
  const rev = opts.rev ?? '1-a';
  const deleted = opts.deleted ?? opts.body === null;
  return {
    id,
    expectedBodyCas: opts.expectedBodyCas,
    expectedMetaCas: opts.expectedMetaCas,
    // JSON.stringify: ids with quotes, backslashes or control characters still make valid JSON (PostgreSQL checks).
    body: 'body' in opts ? opts.body : JSON.stringify({ id }),
    builtWith,
    build: (seq) => {
      builtWith.push(seq);
      return {
        meta: JSON.stringify({ rev, seq }),
        deleted,
        change: { rev, deleted, channels: opts.channels ?? [], removed: opts.removed ?? [] },
        ...(opts.grants ? { grants: opts.grants } : {}),
      };
    },
  };
}

export type OkResult = Extract<CommitResult, { ok: true }>;

export function expectOk(result: CommitResult): OkResult {
  if (!result.ok) throw new Error(`commit failed: ${result.reason}`);
  return result;
}

/** Commit a new revision on top of whatever is stored now. */
export async function save(coll: Collection, id: string, revision: Revision = {}): Promise<OkResult> {
  const current = await coll.get(id);
  return expectOk(
    await coll.commit(
      makeCommit(id, {
        ...revision,
        expectedBodyCas: current?.bodyCas ?? null,
        expectedMetaCas: current?.metaCas ?? null,
      }),
    ),
  );
}

/** All mutation-log entries (every partition) of one document, in log order. */
export async function mutationsOf(bucket: Bucket, coll: Collection, id: string): Promise<MutationRecord[]> {
  const found: MutationRecord[] = [];
  for (let partition = 0; partition < bucket.partitions; partition++) {
    const entries = await coll.readMutations(partition, 0, 1_000_000);
    found.push(...entries.filter((m) => m.id === id));
  }
  return found.sort((a, b) => a.position - b.position);
}

/** Compare strings by Unicode code point (not UTF-16 code unit). */
export function byCodePoint(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
