import fc from 'fast-check';
import { ancestry } from './history.ts';
import { addHistory, addRevision } from './merge.ts';
import { generationOf } from './rev-id.ts';
import type { RevTree } from './types.ts';

/** Builds a tree literally from `[rev, parent, deleted?]` rows, without the validation of addRevision. */
export function treeOf(rows: ReadonlyArray<readonly [string, string | null, boolean?]>): RevTree {
  const tree: RevTree = {};
  for (const [rev, parent, deleted] of rows) tree[rev] = { parent, deleted: deleted ?? false };
  return tree;
}

/** A linear chain `1-<d1>` ... `n-<dn>` from the given digests, oldest first; the last one may be a tombstone. */
export function chainOf(digests: readonly string[], lastDeleted = false): RevTree {
  return treeOf(
    digests.map((d, i) => [`${i + 1}-${d}`, i === 0 ? null : `${i}-${digests[i - 1]}`, lastDeleted && i === digests.length - 1]),
  );
}

export interface TreeOp {
  kind: 'rev' | 'history';
  pick: number;
  deleted: boolean;
  length: number;
  keep: number;
  salt: string;
}

export const treeOpArb: fc.Arbitrary<TreeOp> = fc.record({
  kind: fc.constantFrom('rev', 'history'),
  pick: fc.nat(),
  deleted: fc.boolean(),
  length: fc.integer({ min: 1, max: 4 }),
  keep: fc.nat({ max: 6 }),
  salt: fc.stringMatching(/^[0-9a-f]{1,3}$/),
});

export const treeOpsArb: fc.Arbitrary<TreeOp[]> = fc.array(treeOpArb, { minLength: 1, maxLength: 25 });

/**
 * Replays random edits: a local edit on top of any revision (or a new root), or a replicated branch of several
 * new revisions grafted on any revision and sent with part of that revision's ancestry.
 */
export function buildTree(ops: readonly TreeOp[]): RevTree {
  let tree: RevTree = {};
  let counter = 0;
  const nextDigest = (salt: string): string => `${salt}z${(counter++).toString(36)}`;
  for (const op of ops) {
    const revs = Object.keys(tree);
    const base = revs[op.pick % (revs.length + 1)] ?? null;
    const baseGeneration = base === null ? 0 : generationOf(base);
    if (op.kind === 'rev') {
      tree = addRevision(tree, `${baseGeneration + 1}-${nextDigest(op.salt)}`, base, op.deleted);
      continue;
    }
    const fresh: string[] = [];
    for (let g = baseGeneration + op.length; g > baseGeneration; g--) fresh.push(`${g}-${nextDigest(op.salt)}`);
    const known = base === null ? [] : ancestry(tree, base).slice(0, op.keep + 1);
    tree = addHistory(tree, [...fresh, ...known], op.deleted).tree;
  }
  return tree;
}
