import { describe, expect, it } from 'vitest';
import { pruneTree } from './prune.ts';
import { chainOf, treeOf } from './test-trees.ts';

describe('pruneTree', () => {
  it('keeps the newest revisions of a linear history', () => {
    const tree = chainOf(['a', 'b', 'c', 'd', 'e']);
    const result = pruneTree(tree, 2);
    expect(result.tree).toEqual(treeOf([['4-d', null], ['5-e', '4-d']]));
    expect(result.pruned.sort()).toEqual(['1-a', '2-b', '3-c']);
    expect(tree).toEqual(chainOf(['a', 'b', 'c', 'd', 'e']));
  });

  it('leaves a short enough tree alone', () => {
    const tree = chainOf(['a', 'b', 'c']);
    expect(pruneTree(tree, 3)).toEqual({ tree, pruned: [] });
    expect(pruneTree(tree, 1000)).toEqual({ tree, pruned: [] });
  });

  it('keeps what any branch still needs', () => {
    const tree = treeOf([
      ['1-a', null],
      ['2-b', '1-a'],
      ['3-c', '2-b'],
      ['4-d', '3-c'],
      ['5-e', '4-d'],
      ['2-x', '1-a', true],
    ]);
    const result = pruneTree(tree, 2);
    expect(result.tree).toEqual(
      treeOf([
        ['1-a', null],
        ['2-x', '1-a', true],
        ['4-d', null],
        ['5-e', '4-d'],
      ]),
    );
    expect(result.pruned.sort()).toEqual(['2-b', '3-c']);
  });

  it('keeps only leaves at depth 1', () => {
    const tree = treeOf([['1-a', null], ['2-b', '1-a'], ['2-c', '1-a', true]]);
    expect(pruneTree(tree, 1).tree).toEqual(treeOf([['2-b', null], ['2-c', null, true]]));
  });

  it('turns dangling parents into roots', () => {
    expect(pruneTree(treeOf([['5-e', '4-d']]), 3).tree).toEqual(treeOf([['5-e', null]]));
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects depth %s', (depth) => {
    expect(() => pruneTree(chainOf(['a']), depth)).toThrowError(expect.objectContaining({ status: 400 }));
  });
});
