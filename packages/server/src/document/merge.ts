import { badRequest } from '../base/errors.ts';
import { getNode, hasRev } from './leaves.ts';
import { parseRevId } from './rev-id.ts';
import type { RevTree } from './types.ts';

/**
 * A copy whose nodes are fresh objects too, so later edits of either tree never reach the other. The copy has no
 * prototype: any revision id (even "__proto__") is a plain key, and V8 keeps it in dictionary mode, which suits
 * keys that are unique to one document.
 */
export function cloneTree(tree: RevTree): RevTree {
  const copy = Object.create(null) as RevTree;
  for (const [rev, node] of Object.entries(tree)) copy[rev] = { parent: node.parent, deleted: node.deleted };
  return copy;
}

/** Only on trees made by cloneTree (no prototype, so assignment always creates a data property). */
function setNode(tree: RevTree, rev: string, parent: string | null, deleted: boolean): void {
  tree[rev] = { parent, deleted };
}

/** Returns a new tree with `rev` added as a child of `parent` (null for a first revision). */
export function addRevision(tree: RevTree, rev: string, parent: string | null, deleted: boolean): RevTree {
  const { generation } = parseRevId(rev);
  if (hasRev(tree, rev)) throw badRequest(`Revision ${rev} already exists`);
  if (parent === null) {
    if (generation !== 1) throw badRequest(`Revision ${rev} has no parent but is not generation 1`);
  } else {
    const parentGeneration = parseRevId(parent).generation;
    if (!hasRev(tree, parent)) throw badRequest(`Parent revision ${parent} is not in the tree`);
    if (generation !== parentGeneration + 1) {
      throw badRequest(`Revision ${rev} must be exactly one generation after its parent ${parent}`);
    }
  }
  const next = cloneTree(tree);
  setNode(next, rev, parent, deleted);
  return next;
}

function validateHistory(history: readonly string[]): void {
  if (history.length === 0) throw badRequest('Revision history is empty');
  let previous: number | null = null;
  for (const rev of history) {
    const { generation } = parseRevId(rev);
    if (previous !== null && generation !== previous - 1) {
      throw badRequest('Revision history generations must decrease by one');
    }
    previous = generation;
  }
}

export interface AddHistoryResult {
  tree: RevTree;
  /** Revisions that were not in the tree before, newest first. */
  added: string[];
}

/**
 * Merges a replicated revision and its history (newest first, as sent with `new_edits=false`). Existing nodes keep
 * their parent links, except a root whose parent appears in the history: it is re-attached, which rejoins a branch
 * that had been pruned. `deleted` applies to history[0] only.
 */
export function addHistory(tree: RevTree, history: readonly string[], deleted: boolean): AddHistoryResult {
  validateHistory(history);
  const next = cloneTree(tree);
  const added: string[] = [];
  if (history[0] === undefined || hasRev(tree, history[0])) return { tree: next, added };
  for (let i = 0; i < history.length; i++) {
    const rev = history[i] as string;
    const parent = history[i + 1] ?? null;
    const existing = getNode(next, rev);
    if (existing === undefined) {
      setNode(next, rev, parent, i === 0 ? deleted : false);
      added.push(rev);
    } else if (existing.parent === null) {
      if (parent !== null) setNode(next, rev, parent, existing.deleted);
    } else if (existing.parent !== parent) {
      // The tree already holds a different ancestry for this revision; it stays authoritative.
      break;
    }
  }
  return { tree: next, added };
}
