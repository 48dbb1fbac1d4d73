import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignPartitions, desiredPartitions } from './assignment.ts';

describe('partition assignment', () => {
  it('gives every partition to the only node', () => {
    expect(assignPartitions(['a'], 4)).toEqual(['a', 'a', 'a', 'a']);
    expect(desiredPartitions('a', ['a'], 1)).toEqual([0]);
  });

  it('leaves partitions unowned when there is no import node', () => {
    expect(assignPartitions([], 3)).toEqual([null, null, null]);
    expect(desiredPartitions('a', [], 3)).toEqual([]);
  });

  it('round-robins over the nodes in id order, whatever order they are listed in', () => {
    expect(assignPartitions(['c', 'a', 'b'], 7)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    expect(desiredPartitions('b', ['b', 'c', 'a'], 7)).toEqual([1, 4]);
    expect(desiredPartitions('z', ['a', 'b'], 4)).toEqual([]);
  });

  it('ignores duplicate node ids', () => {
    expect(assignPartitions(['a', 'b', 'a'], 4)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('splits the partitions without overlap or gap, evenly, and the same way for every node', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 256 }), (nodes, partitions) => {
        const shares = nodes.map((n) => desiredPartitions(n, [...nodes].reverse(), partitions));
        const all = shares.flat().sort((x, y) => x - y);
        expect(all).toEqual(Array.from({ length: partitions }, (_, i) => i));
        const sizes = shares.map((s) => s.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        const owners = assignPartitions(nodes, partitions);
        shares.forEach((share, i) => share.forEach((p) => expect(owners[p]).toBe(nodes[i])));
      }),
    );
  });
});
