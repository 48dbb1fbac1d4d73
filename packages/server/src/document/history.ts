import { getNode, hasRev } from './leaves.ts';
import { parseRevId } from './rev-id.ts';
import { leavesByWinningOrder } from './winner.ts';
import type { RevTree, Revisions } from './types.ts';

/**
 * `rev` followed by its known ancestors, newest first. Stops at a root or at a parent that is not in the tree
 * (pruned history); empty when `rev` itself is unknown.
 */
export function ancestry(tree: RevTree, rev: string): string[] {
  const chain: string[] = [];
  const seen = new Set<string>();
  let current: string | null = rev;
  while (current !== null && !seen.has(current)) {
    const node = getNode(tree, current);
    if (node === undefined) break;
    chain.push(current);
    seen.add(current);
    current = node.parent;
  }
  return chain;
}

/** CouchDB `_revisions` of `rev`: its generation and the digests of its ancestry, at most `limit` of them. */
export function revisionsOf(tree: RevTree, rev: string, limit?: number): Revisions {
  const start = parseRevId(rev).generation;
  let chain = ancestry(tree, rev);
  if (limit !== undefined) chain = chain.slice(0, Math.max(0, Math.floor(limit)));
  return { start, ids: chain.map((r) => parseRevId(r).digest) };
}

/** Expands `_revisions` back into full revision IDs, newest first. */
export function historyFromRevisions(revisions: Revisions): string[] {
  return revisions.ids.map((digest, i) => `${revisions.start - i}-${digest}`);
}

export type RevStatus = 'available' | 'missing' | 'deleted';

export interface RevInfo {
  rev: string;
  status: RevStatus;
}

/** CouchDB `_revs_info` along the ancestry of `rev`; `hasBody` tells whether a revision's body is still stored. */
export function revsInfo(tree: RevTree, rev: string, hasBody: (rev: string) => boolean): RevInfo[] {
  return ancestry(tree, rev).map((r): RevInfo => {
    if (getNode(tree, r)?.deleted === true) return { rev: r, status: 'deleted' };
    return { rev: r, status: hasBody(r) ? 'available' : 'missing' };
  });
}

export interface RevsDiffResult {
  missing: string[];
  possibleAncestors: string[];
}

/**
 * CouchDB `_revs_diff` for one document: which of `revs` the tree lacks, and which of its leaves have a lower
 * generation than some missing revision and so could be ancestors of it.
 */
export function revsDiff(tree: RevTree, revs: readonly string[]): RevsDiffResult {
  const missing: string[] = [];
  let maxMissingGeneration = 0;
  for (const rev of new Set(revs)) {
    const { generation } = parseRevId(rev);
    if (hasRev(tree, rev)) continue;
    missing.push(rev);
    maxMissingGeneration = Math.max(maxMissingGeneration, generation);
  }
  if (missing.length === 0) return { missing, possibleAncestors: [] };
  const possibleAncestors = leavesByWinningOrder(tree).filter(
    (leaf) => parseRevId(leaf).generation < maxMissingGeneration,
  );
  return { missing, possibleAncestors };
}
