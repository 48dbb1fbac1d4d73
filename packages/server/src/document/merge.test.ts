import { describe, expect, it } from 'vitest';
import { ancestry } from './history.ts';
import { addHistory, addRevision } from './merge.ts';
import { pruneTree } from './prune.ts';
import { chainOf, treeOf } from './test-trees.ts';
import { winningRev } from './winner.ts';

const badRequest = expect.objectContaining({ status: 400, error: 'bad_request' });

describe('addRevision', () => {
  it('adds a first revision and children without touching the input', () => {
    const empty = {};
    const one = addRevision(empty, '1-a', null, false);
    const two = addRevision(one, '2-b', '1-a', true);
    expect(empty).toEqual({});
    expect(one).toEqual(treeOf([['1-a', null]]));
    expect(two).toEqual(treeOf([['1-a', null], ['2-b', '1-a', true]]));
  });

  it('allows branching from an inner revision', () => {
    const tree = addRevision(chainOf(['a', 'b', 'c']), '2-x', '1-a', false);
    expect(tree['2-x']).toEqual({ parent: '1-a', deleted: false });
    expect(winningRev(tree)).toBe('3-c');
  });

  it.each<[string, string, string | null]>([
    ['invalid rev', 'bogus', null],
    ['invalid parent', '2-b', 'bogus'],
    ['unknown parent', '2-b', '1-q'],
    ['generation gap', '3-b', '1-a'],
    ['same generation as parent', '1-b', '1-a'],
    ['root above generation 1', '2-b', null],
    ['already present', '1-a', null],
  ])('rejects %s', (_name, rev, parent) => {
    expect(() => addRevision(treeOf([['1-a', null]]), rev, parent, false)).toThrowError(badRequest);
  });
});

describe('addHistory', () => {
  it('inserts a whole history into an empty tree', () => {
    const result = addHistory({}, ['3-c', '2-b', '1-a'], true);
    expect(result.added).toEqual(['3-c', '2-b', '1-a']);
    expect(result.tree).toEqual(chainOf(['a', 'b', 'c'], true));
  });

  it('extends an existing branch, keeping the existing nodes', () => {
    const base = treeOf([['1-a', null], ['2-b', '1-a', true]]);
    const result = addHistory(base, ['4-d', '3-c', '2-b', '1-a'], false);
    expect(result.added).toEqual(['4-d', '3-c']);
    expect(result.tree['2-b']).toEqual({ parent: '1-a', deleted: true });
    expect(ancestry(result.tree, '4-d')).toEqual(['4-d', '3-c', '2-b', '1-a']);
    expect(base).toEqual(treeOf([['1-a', null], ['2-b', '1-a', true]]));
  });

  it('creates a conflicting branch', () => {
    const result = addHistory(chainOf(['a', 'b', 'c']), ['3-y', '2-x', '1-a'], false);
    expect(result.added).toEqual(['3-y', '2-x']);
    expect(winningRev(result.tree)).toBe('3-y');
  });

  it('adds nothing when the newest revision is known', () => {
    const tree = chainOf(['a', 'b']);
    expect(addHistory(tree, ['2-b', '1-a'], true)).toEqual({ tree, added: [] });
    expect(addHistory(tree, ['2-b'], false).added).toEqual([]);
  });

  it('makes the oldest unknown revision a root when history is short', () => {
    const result = addHistory({}, ['7-g', '6-f'], false);
    expect(result.tree).toEqual(treeOf([['7-g', '6-f'], ['6-f', null]]));
  });

  it('rejoins a pruned tree with its older history', () => {
    const pruned = pruneTree(chainOf(['a', 'b', 'c', 'd']), 2).tree;
    expect(pruned).toEqual(treeOf([['3-c', null], ['4-d', '3-c']]));
    const result = addHistory(pruned, ['5-e', '4-d', '3-c', '2-b', '1-a'], false);
    expect(result.added).toEqual(['5-e', '2-b', '1-a']);
    expect(ancestry(result.tree, '5-e')).toEqual(['5-e', '4-d', '3-c', '2-b', '1-a']);
  });

  it('rejoins two disjoint fragments through a shared ancestor', () => {
    const tree = treeOf([['1-a', null], ['3-c', null]]);
    const result = addHistory(tree, ['4-d', '3-c', '2-b', '1-a'], false);
    expect(result.added).toEqual(['4-d', '2-b']);
    expect(ancestry(result.tree, '4-d')).toEqual(['4-d', '3-c', '2-b', '1-a']);
  });

  it('keeps an existing ancestry that disagrees with the incoming one', () => {
    const tree = treeOf([['1-a', null], ['2-b', '1-a']]);
    const result = addHistory(tree, ['3-c', '2-b', '1-z'], false);
    expect(result.added).toEqual(['3-c']);
    expect(ancestry(result.tree, '3-c')).toEqual(['3-c', '2-b', '1-a']);
  });

  it.each<[string, string[]]>([
    ['empty history', []],
    ['generation gap', ['3-c', '1-a']],
    ['ascending', ['1-a', '2-b']],
    ['repeated generation', ['2-b', '2-c']],
    ['invalid rev', ['2-b', 'junk']],
  ])('rejects %s', (_name, history) => {
    expect(() => addHistory({}, history, false)).toThrowError(badRequest);
  });
});
