import { describe, expect, it } from 'vitest';
import { treeOf } from './test-trees.ts';
import type { RevTree } from './types.ts';
import { compareWinning, conflicts, deletedConflicts, isDeleted, leavesByWinningOrder, winnerThenLeaves, winningRev } from './winner.ts';
import { leaves } from './leaves.ts';

interface Vector {
  name: string;
  tree: RevTree;
  winner: string | null;
  deleted: boolean;
  conflicts: string[];
  deletedConflicts: string[];
}

const vectors: Vector[] = [
  { name: 'empty tree', tree: {}, winner: null, deleted: false, conflicts: [], deletedConflicts: [] },
  {
    name: 'linear history',
    tree: treeOf([['1-a', null], ['2-b', '1-a'], ['3-c', '2-b']]),
    winner: '3-c',
    deleted: false,
    conflicts: [],
    deletedConflicts: [],
  },
  {
    name: 'higher generation branch wins',
    tree: treeOf([['1-a', null], ['2-b', '1-a'], ['3-c', '2-b'], ['2-z', '1-a']]),
    winner: '3-c',
    deleted: false,
    conflicts: ['2-z'],
    deletedConflicts: [],
  },
  {
    name: 'live leaf beats a deleted leaf of higher generation',
    tree: treeOf([['1-a', null], ['2-b', '1-a'], ['3-c', '2-b', true], ['2-z', '1-a']]),
    winner: '2-z',
    deleted: false,
    conflicts: [],
    deletedConflicts: ['3-c'],
  },
  {
    name: 'equal generation: greater revid wins',
    tree: treeOf([['1-a', null], ['2-abc', '1-a'], ['2-abd', '1-a'], ['2-Abz', '1-a']]),
    winner: '2-abd',
    deleted: false,
    conflicts: ['2-abc', '2-Abz'],
    deletedConflicts: [],
  },
  {
    name: 'all leaves deleted: highest deleted leaf wins',
    tree: treeOf([['1-a', null], ['2-b', '1-a', true], ['3-c', '2-b', true], ['3-d', '2-b', true], ['2-z', '1-a', true]]),
    winner: '3-d',
    deleted: true,
    conflicts: [],
    deletedConflicts: ['3-c', '2-z'],
  },
  {
    name: 'generations compare numerically, not as strings',
    tree: treeOf([['9-a', null], ['10-a', '9-a'], ['10-b', '9-a']]),
    winner: '10-b',
    deleted: false,
    conflicts: ['10-a'],
    deletedConflicts: [],
  },
  {
    name: 'several disjoint roots',
    tree: treeOf([['1-a', null], ['1-b', null, true], ['4-d', null], ['5-e', '4-d']]),
    winner: '5-e',
    deleted: false,
    conflicts: ['1-a'],
    deletedConflicts: ['1-b'],
  },
];

describe('winningRev', () => {
  it.each(vectors)('$name', (v) => {
    expect(winningRev(v.tree)).toBe(v.winner);
    expect(isDeleted(v.tree)).toBe(v.deleted);
    expect(conflicts(v.tree)).toEqual(v.conflicts);
    expect(deletedConflicts(v.tree)).toEqual(v.deletedConflicts);
    expect(leavesByWinningOrder(v.tree)[0] ?? null).toBe(v.winner);
    const listed = winnerThenLeaves(v.tree);
    expect(listed[0] ?? null).toBe(v.winner);
    expect(listed.slice(1)).toEqual(leaves(v.tree).filter((rev) => rev !== v.winner));
  });

  it('compareWinning is antisymmetric', () => {
    const tree = treeOf([['2-a', null], ['2-b', null, true], ['3-a', null]]);
    const revs = Object.keys(tree);
    for (const a of revs) {
      for (const b of revs) {
        expect(Math.sign(compareWinning(tree, a, b)) + Math.sign(compareWinning(tree, b, a))).toBe(0);
        expect(compareWinning(tree, a, b) === 0).toBe(a === b);
      }
    }
  });
});
