/** A small revision tree: revisions by ID with their parent links (pure functions). */

export interface RevNode {
  parent: string | undefined;
  deleted: boolean;
  /** Kept for leaves and recent revisions; may be dropped for old ones. */
  body: Record<string, unknown> | undefined;
}

export type RevTree = Map<string, RevNode>;

export function generationOf(revId: string): number {
  const n = Number.parseInt(revId.slice(0, revId.indexOf('-')), 10);
  return Number.isFinite(n) ? n : 0;
}

/** Adds `revId` with its ancestors (newest first); existing nodes keep their data. Returns true if `revId` was new. */
export function graft(tree: RevTree, revId: string, history: readonly string[], deleted: boolean, body: Record<string, unknown>): boolean {
  if (tree.has(revId)) return false;
  const chain = [revId, ...history];
  for (let i = chain.length - 1; i >= 0; i--) {
    const id = chain[i]!;
    if (tree.has(id)) continue;
    const isNew = i === 0;
    tree.set(id, { parent: chain[i + 1], deleted: isNew ? deleted : false, body: isNew ? body : undefined });
  }
  return true;
}

export function leaves(tree: RevTree): string[] {
  const parents = new Set<string>();
  for (const node of tree.values()) if (node.parent !== undefined) parents.add(node.parent);
  return [...tree.keys()].filter((id) => !parents.has(id));
}

/** The winning revision: a live leaf before a deleted one, then the higher generation, then the higher ID. */
export function winner(tree: RevTree): string | undefined {
  let best: string | undefined;
  for (const id of leaves(tree)) {
    if (best === undefined || compareRevs(tree, id, best) > 0) best = id;
  }
  return best;
}

function compareRevs(tree: RevTree, a: string, b: string): number {
  const da = tree.get(a)!.deleted;
  const db = tree.get(b)!.deleted;
  if (da !== db) return da ? -1 : 1;
  const ga = generationOf(a);
  const gb = generationOf(b);
  if (ga !== gb) return ga - gb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Ancestors of `revId`, newest first, not including it. */
export function ancestors(tree: RevTree, revId: string): string[] {
  const out: string[] = [];
  let id = tree.get(revId)?.parent;
  while (id !== undefined && out.length < 10_000) {
    out.push(id);
    id = tree.get(id)?.parent;
  }
  return out;
}
