import { getNode, leaves } from './leaves.ts';
import { generationOf } from './rev-id.ts';
import type { RevTree } from './types.ts';

/**
 * CouchDB's deterministic ordering of leaves: live before deleted, then higher generation, then the greater revision
 * ID string. Negative when `a` ranks before (wins over) `b`.
 */
export function compareWinning(tree: RevTree, a: string, b: string): number {
  const aDeleted = getNode(tree, a)?.deleted === true;
  const bDeleted = getNode(tree, b)?.deleted === true;
  if (aDeleted !== bDeleted) return aDeleted ? 1 : -1;
  const generationDiff = generationOf(b) - generationOf(a);
  if (generationDiff !== 0) return generationDiff;
  if (a === b) return 0;
  return a < b ? 1 : -1;
}

/** All leaves, winner first. */
export function leavesByWinningOrder(tree: RevTree): string[] {
  return leaves(tree).sort((a, b) => compareWinning(tree, a, b));
}

function bestOf(tree: RevTree, revs: readonly string[]): string | null {
  let best: string | null = null;
  for (const leaf of revs) {
    if (best === null || compareWinning(tree, leaf, best) < 0) best = leaf;
  }
  return best;
}

export function winningRev(tree: RevTree): string | null {
  return bestOf(tree, leaves(tree));
}

/** The winner, then the other leaves in the tree's key order (the `changes` list of `style=all_docs`). */
export function winnerThenLeaves(tree: RevTree): string[] {
  const all = leaves(tree);
  const winner = bestOf(tree, all);
  if (winner === null || all.length === 1) return all;
  return [winner, ...all.filter((rev) => rev !== winner)];
}

/** True when the winning revision is a tombstone, i.e. the document reads as deleted. */
export function isDeleted(tree: RevTree): boolean {
  const winner = winningRev(tree);
  return winner !== null && getNode(tree, winner)?.deleted === true;
}

/** CouchDB `_conflicts`: live leaves other than the winner, in winning order. */
export function conflicts(tree: RevTree): string[] {
  return leavesByWinningOrder(tree)
    .slice(1)
    .filter((rev) => getNode(tree, rev)?.deleted === false);
}

/** CouchDB `_deleted_conflicts`: tombstoned leaves other than the winner, in winning order. */
export function deletedConflicts(tree: RevTree): string[] {
  return leavesByWinningOrder(tree)
    .slice(1)
    .filter((rev) => getNode(tree, rev)?.deleted === true);
}
