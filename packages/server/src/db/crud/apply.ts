import type { SyncResult } from '../../channels/index.ts';
import type { Cas, CommitPayload, DocumentCommit } from '../../storage/bucket.ts';
import { compareWinning, leaves, pruneTree } from '../../document/index.ts';
import type { RevTree } from '../../document/types.ts';
import { serializeMeta, type AttachmentMap, type SyncMeta } from '../doc-meta.ts';
import { channelFields, grantsOf, storedChannelsOf, winnerGrantsOf, type ChannelPlan } from './channel-state.ts';
import { revisionContent, storeBody, type CurrentDoc, type RevisionContent } from './current.ts';

export interface NewRevision {
  rev: string;
  content: RevisionContent;
  /** The document's tree with the new revision (and any replicated ancestors) already added. */
  tree: RevTree;
  /** The documents row already holds this revision's body (an imported direct write): never rewrite it. */
  inDocumentsTable?: boolean;
}

/** The sync function's verdict on the new revision, and how to get one for another leaf that becomes the winner. */
export interface RevisionSync {
  result: SyncResult;
  /** Runs the sync function on an existing leaf that becomes the winner (its grants are not stored). */
  forWinner: (rev: string, content: RevisionContent) => SyncResult;
}

const bodyJson = (content: RevisionContent | null): string => content?.json ?? JSON.stringify(content?.body ?? {});

function contentOf(doc: CurrentDoc, next: NewRevision, rev: string): RevisionContent | null {
  return rev === next.rev ? next.content : revisionContent(doc, rev);
}

/** CouchDB's winner among the leaves of a tree. */
function winnerOf(tree: RevTree, leafRevs: readonly string[]): string {
  let best = leafRevs[0]!;
  for (let i = 1; i < leafRevs.length; i++) if (compareWinning(tree, leafRevs[i]!, best) < 0) best = leafRevs[i]!;
  return best;
}

/** The planned write; its metadata JSON is produced once the sequence is known. */
class PlannedCommit implements DocumentCommit {
  constructor(
    readonly id: string,
    readonly expectedBodyCas: Cas | null,
    readonly expectedMetaCas: Cas | null,
    readonly body: string | null | undefined,
    private readonly rev: string,
    private readonly tree: RevTree,
    private readonly attachments: AttachmentMap,
    private readonly bodies: Record<string, string>,
    private readonly deleted: boolean,
    private readonly tombstonedAt: number | undefined,
    private readonly timeSaved: string,
    private readonly old: SyncMeta | null,
    private readonly channelPlan: ChannelPlan,
  ) {}

  build(seq: number): CommitPayload {
    const { rev, tree, attachments, bodies, deleted, tombstonedAt, timeSaved, channelPlan } = this;
    const fields = channelFields(this.old, channelPlan, seq);
    const meta: SyncMeta = { rev, tree, attachments, bodies, ...fields, deleted, timeSaved, seq };
    if (tombstonedAt !== undefined) meta.tombstonedAt = tombstonedAt;
    const payload: CommitPayload = {
      meta: serializeMeta(meta),
      change: { rev, deleted, channels: fields.channels, removed: fields.removed ? Object.keys(fields.removed) : [] },
      deleted,
    };
    if (channelPlan.grants) {
      const grants = grantsOf(channelPlan.grants);
      // A document that never granted anything and still grants nothing has no grant rows to touch.
      const grantedBefore = this.old !== null && (this.old.access !== undefined || this.old.roles !== undefined);
      if (grants.length > 0 || grantedBefore) payload.grants = grants;
    }
    return payload;
  }
}

/**
 * Channels of the new tree's leaves: the new revision's from its sync result, the others' from the metadata. A
 * leaf other than the new revision that becomes the winner is run through the sync function again (as Sync
 * Gateway does), since only its channels were kept, not its grants.
 */
function planChannels(doc: CurrentDoc, next: NewRevision, sync: RevisionSync, leafRevs: readonly string[], winner: string, winnerContent: RevisionContent | null): ChannelPlan {
  const old = doc.meta;
  const leafChannels = new Map<string, readonly string[]>();
  for (const rev of leafRevs) {
    if (rev === winner) continue;
    leafChannels.set(rev, rev === next.rev ? sync.result.channels : storedChannelsOf(old, rev));
  }
  if (winner === next.rev) return { channels: sync.result.channels, leafChannels, grants: winnerGrantsOf(sync.result) };
  if (old !== null && winner === old.rev) return { channels: old.channels, leafChannels, grants: undefined };
  if (winnerContent === null) return { channels: storedChannelsOf(old, winner), leafChannels, grants: undefined };
  const result = sync.forWinner(winner, winnerContent);
  return { channels: result.channels, leafChannels, grants: winnerGrantsOf(result) };
}

/**
 * Builds the storage write that makes `next.rev` part of the document: prunes the tree, works out the new
 * winner, moves bodies between the documents table (live winner) and the metadata (other leaves), and
 * prepares the metadata for the changes log.
 */
export function planCommit(doc: CurrentDoc, next: NewRevision, revsLimit: number, sync: RevisionSync): DocumentCommit {
  // A tree with no more revisions than the limit cannot have a branch deeper than it.
  const tree = Object.keys(next.tree).length > revsLimit ? pruneTree(next.tree, revsLimit).tree : next.tree;
  const leafRevs = leaves(tree);
  const winner = winnerOf(tree, leafRevs);
  const old = doc.meta;
  const bodies: Record<string, string> = {};
  for (const rev of leafRevs) {
    if (rev === winner && !tree[rev]!.deleted) continue;
    const existing = old?.bodies[rev];
    if (existing !== undefined && rev !== next.rev) {
      bodies[rev] = existing;
      continue;
    }
    const content = contentOf(doc, next, rev);
    if (content && (Object.keys(content.body).length > 0 || Object.keys(content.attachments).length > 0 || !content.deleted)) {
      bodies[rev] = storeBody(content);
    }
  }
  const winnerDeleted = tree[winner]!.deleted;
  const winnerContent = contentOf(doc, next, winner);
  const oldWinnerLive = old !== null && !old.deleted;
  let body: string | null | undefined;
  if (winnerDeleted) body = doc.stored?.body != null ? null : undefined;
  else if (oldWinnerLive && old.rev === winner) body = undefined;
  else if (next.inDocumentsTable && winner === next.rev) body = undefined;
  else body = bodyJson(winnerContent);
  if (body === undefined && !winnerDeleted && doc.stored?.body == null) body = bodyJson(winnerContent);
  const channelPlan = planChannels(doc, next, sync, leafRevs, winner, winnerContent);
  const now = Date.now();
  return new PlannedCommit(
    doc.id,
    doc.stored?.bodyCas ?? null,
    doc.stored?.metaCas ?? null,
    body,
    winner,
    tree,
    winnerDeleted ? {} : (winnerContent?.attachments ?? {}),
    bodies,
    winnerDeleted,
    winnerDeleted ? (old?.deleted && old.tombstonedAt ? old.tombstonedAt : now) : undefined,
    new Date(now).toISOString(),
    old,
    channelPlan,
  );
}
