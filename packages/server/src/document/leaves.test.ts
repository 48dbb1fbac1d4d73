import { describe, expect, it } from 'vitest';
import { getNode, hasRev, isLeaf, leaves } from './leaves.ts';
import { treeOf } from './test-trees.ts';

const branched = treeOf([
  ['1-a', null],
  ['2-b', '1-a'],
  ['3-c', '2-b'],
  ['2-x', '1-a', true],
]);

describe('leaves', () => {
  it.each<[string, ReturnType<typeof treeOf>, string[]]>([
    ['empty tree', {}, []],
    ['single root', treeOf([['1-a', null]]), ['1-a']],
    ['branched tree', branched, ['3-c', '2-x']],
    ['pruned roots', treeOf([['5-e', null], ['6-f', '5-e'], ['6-g', '5-e']]), ['6-f', '6-g']],
    ['dangling parent', treeOf([['4-d', '3-c']]), ['4-d']],
  ])('%s', (_name, tree, expected) => {
    expect(leaves(tree).sort()).toEqual(expected.sort());
  });

  it('isLeaf and hasRev', () => {
    expect(isLeaf(branched, '3-c')).toBe(true);
    expect(isLeaf(branched, '2-x')).toBe(true);
    expect(isLeaf(branched, '2-b')).toBe(false);
    expect(isLeaf(branched, '9-z')).toBe(false);
    expect(hasRev(branched, '1-a')).toBe(true);
    expect(hasRev(branched, '9-z')).toBe(false);
    expect(hasRev(branched, 'toString')).toBe(false);
    expect(getNode(branched, 'constructor')).toBeUndefined();
    expect(getNode(branched, '2-x')).toEqual({ parent: '1-a', deleted: true });
  });
});
