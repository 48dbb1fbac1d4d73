import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ancestry } from './history.ts';
import { isLeaf, leaves } from './leaves.ts';
import { addHistory, addRevision } from './merge.ts';
import { pruneTree } from './prune.ts';
import { generationOf } from './rev-id.ts';
import { buildTree, treeOpsArb } from './test-trees.ts';
import type { RevTree } from './types.ts';
import { compareWinning, conflicts, deletedConflicts, winningRev } from './winner.ts';

function expectWellFormed(tree: RevTree): void {
  for (const [rev, node] of Object.entries(tree)) {
    if (node.parent === null) continue;
    expect(Object.hasOwn(tree, node.parent)).toBe(true);
    expect(generationOf(node.parent)).toBe(generationOf(rev) - 1);
  }
}

function branchesOf(tree: RevTree): Array<{ history: string[]; deleted: boolean }> {
  return leaves(tree).map((leaf) => ({ history: ancestry(tree, leaf), deleted: tree[leaf]?.deleted === true }));
}

function rebuild(branches: ReadonlyArray<{ history: string[]; deleted: boolean }>): RevTree {
  let tree: RevTree = {};
  for (const branch of branches) tree = addHistory(tree, branch.history, branch.deleted).tree;
  return tree;
}

function permute<T>(items: readonly T[], keys: readonly number[]): T[] {
  return items
    .map((item, i) => ({ item, key: keys[i % Math.max(1, keys.length)] ?? 0, i }))
    .sort((a, b) => a.key - b.key || a.i - b.i)
    .map(({ item }) => item);
}

const structure = (tree: RevTree): Record<string, string | null> =>
  Object.fromEntries(Object.entries(tree).map(([rev, node]) => [rev, node.parent]));

describe('revision tree properties', () => {
  it('random trees are well formed and the winner is the best leaf', () => {
    fc.assert(
      fc.property(treeOpsArb, (ops) => {
        const tree = buildTree(ops);
        expectWellFormed(tree);
        const winner = winningRev(tree);
        expect(winner).not.toBeNull();
        if (winner === null) return;
        expect(isLeaf(tree, winner)).toBe(true);
        const all = leaves(tree);
        for (const leaf of all) if (leaf !== winner) expect(compareWinning(tree, winner, leaf)).toBeLessThan(0);
        if (all.some((leaf) => tree[leaf]?.deleted === false)) expect(tree[winner]?.deleted).toBe(false);
        expect([winner, ...conflicts(tree), ...deletedConflicts(tree)].sort()).toEqual([...all].sort());
      }),
    );
  });

  it('the winner does not depend on the order branches arrive in', () => {
    fc.assert(
      fc.property(treeOpsArb, fc.array(fc.nat(), { maxLength: 30 }), (ops, keys) => {
        const tree = buildTree(ops);
        const branches = branchesOf(tree);
        const inOrder = rebuild(branches);
        const shuffled = rebuild(permute(branches, keys));
        const reversed = rebuild([...branches].reverse());
        expect(structure(inOrder)).toEqual(structure(tree));
        expect(shuffled).toEqual(inOrder);
        expect(reversed).toEqual(inOrder);
        expect(winningRev(shuffled)).toBe(winningRev(tree));
        expect(conflicts(shuffled)).toEqual(conflicts(tree));
      }),
    );
  });

  it('edits never mutate their input', () => {
    fc.assert(
      fc.property(treeOpsArb, fc.nat(), fc.integer({ min: 1, max: 5 }), (ops, pick, depth) => {
        const tree = buildTree(ops);
        const snapshot = structuredClone(tree);
        const revs = Object.keys(tree);
        const base = revs[pick % revs.length] ?? null;
        const generation = base === null ? 1 : generationOf(base) + 1;
        addRevision(tree, `${generation}-fresh`, base, false);
        addHistory(tree, [`${generation}-other`, ...(base === null ? [] : ancestry(tree, base))], true);
        pruneTree(tree, depth);
        expect(tree).toEqual(snapshot);
      }),
    );
  });

  it('pruning keeps every leaf, the winner and a consistent shape', () => {
    fc.assert(
      fc.property(treeOpsArb, fc.integer({ min: 1, max: 6 }), (ops, depth) => {
        const tree = buildTree(ops);
        const { tree: pruned, pruned: removed } = pruneTree(tree, depth);
        expectWellFormed(pruned);
        expect(leaves(pruned).sort()).toEqual(leaves(tree).sort());
        expect(winningRev(pruned)).toBe(winningRev(tree));
        expect([...Object.keys(pruned), ...removed].sort()).toEqual(Object.keys(tree).sort());
        for (const leaf of leaves(tree)) {
          const before = ancestry(tree, leaf);
          const after = ancestry(pruned, leaf);
          expect(after).toEqual(before.slice(0, after.length));
          expect(after.length).toBeGreaterThanOrEqual(Math.min(depth, before.length));
        }
        const needed = new Set(leaves(tree).flatMap((leaf) => ancestry(tree, leaf).slice(0, depth)));
        for (const rev of Object.keys(pruned)) expect(needed.has(rev)).toBe(true);
        expect(pruneTree(pruned, depth).pruned).toEqual([]);
      }),
    );
  });

  it('a new revision with full history rejoins a pruned tree', () => {
    fc.assert(
      fc.property(treeOpsArb, fc.integer({ min: 1, max: 4 }), fc.nat(), (ops, depth, pick) => {
        const tree = buildTree(ops);
        const all = leaves(tree);
        const leaf = all[pick % all.length];
        if (leaf === undefined) return;
        const history = [`${generationOf(leaf) + 1}-rejoin`, ...ancestry(tree, leaf)];
        const pruned = pruneTree(tree, depth).tree;
        const merged = addHistory(pruned, history, false).tree;
        expectWellFormed(merged);
        expect(ancestry(merged, history[0] ?? '')).toEqual(history);
      }),
    );
  });
});
