import type { RevNode, RevTree } from './types.ts';

export function hasRev(tree: RevTree, rev: string): boolean {
  return Object.hasOwn(tree, rev);
}

export function getNode(tree: RevTree, rev: string): RevNode | undefined {
  return Object.hasOwn(tree, rev) ? tree[rev] : undefined;
}

function parentsOf(tree: RevTree): Set<string> {
  const parents = new Set<string>();
  for (const node of Object.values(tree)) {
    if (node.parent !== null) parents.add(node.parent);
  }
  return parents;
}

/** Revisions that are nobody's parent, in the tree's key order. */
export function leaves(tree: RevTree): string[] {
  const parents = parentsOf(tree);
  return Object.keys(tree).filter((rev) => !parents.has(rev));
}

export function isLeaf(tree: RevTree, rev: string): boolean {
  if (!hasRev(tree, rev)) return false;
  return Object.values(tree).every((node) => node.parent !== rev);
}
