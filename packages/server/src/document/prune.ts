import { badRequest } from '../base/errors.ts';
import { ancestry } from './history.ts';
import { leaves } from './leaves.ts';
import { cloneTree } from './merge.ts';
import type { RevTree } from './types.ts';

export interface PruneResult {
  tree: RevTree;
  /** Revisions removed from the tree. */
  pruned: string[];
}

/**
 * revs_limit stemming: keeps, for every leaf (tombstones included), the newest `maxDepth` revisions of its ancestry
 * and drops every other revision. A kept revision whose parent was dropped becomes a root.
 */
export function pruneTree(tree: RevTree, maxDepth: number): PruneResult {
  if (!Number.isInteger(maxDepth) || maxDepth < 1) throw badRequest('revs_limit must be a positive integer');
  const keep = new Set<string>();
  for (const leaf of leaves(tree)) {
    for (const rev of ancestry(tree, leaf).slice(0, maxDepth)) keep.add(rev);
  }
  const next = cloneTree(tree);
  const pruned: string[] = [];
  for (const rev of Object.keys(next)) {
    if (!keep.has(rev)) {
      delete next[rev];
      pruned.push(rev);
    }
  }
  for (const node of Object.values(next)) {
    if (node.parent !== null && !keep.has(node.parent)) node.parent = null;
  }
  return { tree: next, pruned };
}
