import { describe, expect, it } from 'vitest';
import { ancestry, historyFromRevisions, revisionsOf, revsDiff, revsInfo } from './history.ts';
import { pruneTree } from './prune.ts';
import { chainOf, treeOf } from './test-trees.ts';

const tree = treeOf([
  ['1-a', null],
  ['2-b', '1-a'],
  ['3-c', '2-b'],
  ['4-d', '3-c', true],
  ['3-x', '2-b'],
]);

describe('ancestry', () => {
  it.each<[string, string[]]>([
    ['4-d', ['4-d', '3-c', '2-b', '1-a']],
    ['3-x', ['3-x', '2-b', '1-a']],
    ['1-a', ['1-a']],
    ['9-z', []],
  ])('%s', (rev, expected) => {
    expect(ancestry(tree, rev)).toEqual(expected);
  });

  it('stops at a parent missing from the tree', () => {
    expect(ancestry(treeOf([['5-e', '4-d'], ['6-f', '5-e']]), '6-f')).toEqual(['6-f', '5-e']);
  });
});

describe('revisionsOf', () => {
  it('lists digests newest first', () => {
    expect(revisionsOf(tree, '4-d')).toEqual({ start: 4, ids: ['d', 'c', 'b', 'a'] });
    expect(revisionsOf(tree, '4-d', 2)).toEqual({ start: 4, ids: ['d', 'c'] });
    expect(revisionsOf(tree, '3-x', 10)).toEqual({ start: 3, ids: ['x', 'b', 'a'] });
  });

  it('reflects pruning', () => {
    const pruned = pruneTree(chainOf(['a', 'b', 'c', 'd', 'e', 'f']), 3).tree;
    expect(revisionsOf(pruned, '6-f')).toEqual({ start: 6, ids: ['f', 'e', 'd'] });
    expect(revisionsOf(pruned, '5-e')).toEqual({ start: 5, ids: ['e', 'd'] });
  });

  it('round-trips through historyFromRevisions', () => {
    expect(historyFromRevisions(revisionsOf(tree, '4-d'))).toEqual(ancestry(tree, '4-d'));
  });
});

describe('revsInfo', () => {
  it('reports deleted, available and missing bodies', () => {
    const stored = new Set(['3-c', '1-a']);
    expect(revsInfo(tree, '4-d', (rev) => stored.has(rev))).toEqual([
      { rev: '4-d', status: 'deleted' },
      { rev: '3-c', status: 'available' },
      { rev: '2-b', status: 'missing' },
      { rev: '1-a', status: 'available' },
    ]);
    expect(revsInfo(tree, '9-z', () => true)).toEqual([]);
  });
});

describe('revsDiff', () => {
  it.each<[string, string[], string[], string[]]>([
    ['nothing missing', ['1-a', '3-x', '4-d'], [], []],
    ['a child of a leaf, ancestors in winning order', ['5-e'], ['5-e'], ['3-x', '4-d']],
    ['only leaves below the highest missing generation', ['4-y'], ['4-y'], ['3-x']],
    ['missing low generation has no ancestors', ['1-q'], ['1-q'], []],
    ['mixed and duplicated', ['2-b', '4-y', '4-y', '3-q'], ['4-y', '3-q'], ['3-x']],
    ['empty request', [], [], []],
  ])('%s', (_name, revs, missing, possibleAncestors) => {
    expect(revsDiff(tree, revs)).toEqual({ missing, possibleAncestors });
  });

  it('everything is missing from an empty tree', () => {
    expect(revsDiff({}, ['2-b', '1-a'])).toEqual({ missing: ['2-b', '1-a'], possibleAncestors: [] });
  });

  it('rejects malformed revisions', () => {
    expect(() => revsDiff(tree, ['bogus'])).toThrowError(expect.objectContaining({ status: 400 }));
  });
});
