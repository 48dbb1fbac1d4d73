export type { ParsedRevId, RevNode, RevTree, Revisions } from './types.ts';
export { parseRevId, isValidRevId, generationOf, digestOf, formatRevId } from './rev-id.ts';
export { canonicalJson, compareCodePoints } from './canonical-json.ts';
export { makeRevId, makeRevIdFromJson } from './make-rev-id.ts';
export type { MakeRevIdOptions } from './make-rev-id.ts';
export { leaves, isLeaf, hasRev, getNode } from './leaves.ts';
export {
  winningRev,
  winnerThenLeaves,
  isDeleted,
  conflicts,
  deletedConflicts,
  compareWinning,
  leavesByWinningOrder,
} from './winner.ts';
export { ancestry, revisionsOf, historyFromRevisions, revsInfo, revsDiff } from './history.ts';
export type { RevInfo, RevStatus, RevsDiffResult } from './history.ts';
export { addRevision, addHistory, cloneTree } from './merge.ts';
export type { AddHistoryResult } from './merge.ts';
export { pruneTree } from './prune.ts';
export type { PruneResult } from './prune.ts';
