import type { DocumentCommit } from '../../storage/bucket.ts';
import { leaves, pruneTree, winningRev } from '../../document/index.ts';
import type { RevTree } from '../../document/types.ts';
import { serializeMeta, type SyncMeta } from '../doc-meta.ts';
import { revisionContent, storeBody, type CurrentDoc, type RevisionContent } from './current.ts';

export interface NewRevision {
  rev: string;
  content: RevisionContent;
  /** The document's tree with the new revision (and any replicated ancestors) already added. */
  tree: RevTree;
}

const bodyJson = (content: RevisionContent | null): string => content?.json ?? JSON.stringify(content?.body ?? {});

/**
 * Builds the storage write that makes `next.rev` part of the document: prunes the tree, works out the new
 * winner, moves bodies between the documents table (live winner) and the metadata (other leaves), and
 * prepares the metadata for the changes log.
 */
export function planCommit(doc: CurrentDoc, next: NewRevision, revsLimit: number): DocumentCommit {
  // A tree with no more revisions than the limit cannot have a branch deeper than it.
  const tree = Object.keys(next.tree).length > revsLimit ? pruneTree(next.tree, revsLimit).tree : next.tree;
  const winner = winningRev(tree)!;
  const leafSet = new Set(leaves(tree));
  const old = doc.meta;

  const contentOf = (rev: string): RevisionContent | null => (rev === next.rev ? next.content : revisionContent(doc, rev));
  const bodies: Record<string, string> = {};
  for (const rev of leafSet) {
    if (rev === winner && !tree[rev]!.deleted) continue;
    const existing = old?.bodies[rev];
    if (existing !== undefined && rev !== next.rev) {
      bodies[rev] = existing;
      continue;
    }
    const content = contentOf(rev);
    if (content && (Object.keys(content.body).length > 0 || Object.keys(content.attachments).length > 0 || !content.deleted)) {
      bodies[rev] = storeBody(content);
    }
  }

  const winnerDeleted = tree[winner]!.deleted;
  const winnerContent = contentOf(winner);
  const oldWinnerLive = old !== null && !old.deleted;
  let body: string | null | undefined;
  if (winnerDeleted) body = doc.stored?.body != null ? null : undefined;
  else if (oldWinnerLive && old.rev === winner) body = undefined;
  else body = bodyJson(winnerContent);
  if (body === undefined && !winnerDeleted && doc.stored?.body == null) body = bodyJson(winnerContent);

  const now = Date.now();
  const meta: Omit<SyncMeta, 'seq'> = {
    rev: winner,
    tree,
    attachments: winnerDeleted ? {} : (winnerContent?.attachments ?? {}),
    bodies,
    channels: [],
    deleted: winnerDeleted,
    ...(winnerDeleted ? { tombstonedAt: old?.deleted && old.tombstonedAt ? old.tombstonedAt : now } : {}),
    timeSaved: new Date(now).toISOString(),
  };

  return {
    id: doc.id,
    expectedBodyCas: doc.stored?.bodyCas ?? null,
    expectedMetaCas: doc.stored?.metaCas ?? null,
    body,
    build: (seq) => ({
      meta: serializeMeta({ ...meta, seq }),
      change: { rev: winner, deleted: winnerDeleted, channels: [], removed: [] },
      deleted: winnerDeleted,
    }),
  };
}
