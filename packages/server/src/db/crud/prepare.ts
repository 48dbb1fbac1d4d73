import { conflict, tooLarge } from '../../base/errors.ts';
import { addHistory, addRevision, generationOf, isLeaf, makeRevId, makeRevIdFromJson } from '../../document/index.ts';
import type { DocumentCommit } from '../../storage/bucket.ts';
import { digestsForRevId, resolveAttachments } from '../attachments/resolve.ts';
import type { SyncUser } from '../../channels/index.ts';
import type { RevTree } from '../../document/types.ts';
import { syncUserOf, type UserAccess } from '../access/user-access.ts';
import type { DbContext } from '../context.ts';
import { planCommit, type RevisionSync } from './apply.ts';
import { knownAttachments, type CurrentDoc, type RevisionContent } from './current.ts';
import { historyOf, type IncomingDoc } from './incoming.ts';
import { syncRevision } from './sync-run.ts';

export interface WriteOptions {
  /** false when replicating: revisions keep the IDs and history the client gives. */
  newEdits: boolean;
  /** Parent revision given outside the body (`?rev=` or `If-Match`), used when the body has no `_rev`. */
  rev?: string;
  /** Attachment bodies from a multipart request. */
  follows?: ReadonlyMap<string, Buffer>;
  /** Who writes: the sync function's `user` (its require* checks). Undefined or null is the admin, who passes them all. */
  user?: UserAccess | null;
}

/**
 * `pins`: attachment digests pinned for this write; the caller unpins them after the commit attempt.
 * `bytes`: UTF-8 size of the revision's JSON body (for metrics).
 */
export type Prepared = { kind: 'commit'; rev: string; commit: DocumentCommit; pins: string[]; bytes: number } | { kind: 'noop'; rev: string };

/** Serialises the body once, for the size check and for storage. */
function bodyJson(ctx: DbContext, incoming: IncomingDoc): string {
  const json = JSON.stringify(incoming.body);
  const size = json.length <= ctx.config.max_document_size / 3 ? json.length : Buffer.byteLength(json, 'utf8');
  if (size > ctx.config.max_document_size) {
    throw tooLarge(`Document "${incoming.id}" is ${size} bytes, more than the limit of ${ctx.config.max_document_size}`);
  }
  return json;
}

/** The parent a new edit builds on, following CouchDB: a leaf given by the client, or the tombstone it recreates. */
function parentForEdit(current: CurrentDoc, given: string | undefined): string | null {
  const meta = current.meta;
  if (!meta) {
    if (given !== undefined) throw conflict();
    return null;
  }
  if (given === undefined) {
    if (!meta.deleted) throw conflict();
    return meta.rev;
  }
  const node = meta.tree[given];
  if (!node || !isLeaf(meta.tree, given)) throw conflict();
  if (node.deleted && given !== meta.rev) throw conflict();
  return given;
}

async function attachmentsFor(ctx: DbContext, current: CurrentDoc, incoming: IncomingDoc, parent: string | null, generation: number, opts: WriteOptions, pins: string[]) {
  if (incoming.attachments === undefined) return {};
  return resolveAttachments(incoming.attachments, {
    generation,
    known: knownAttachments(current, parent),
    ...(opts.follows ? { follows: opts.follows } : {}),
    maxSize: ctx.config.max_attachment_size,
    keepRevpos: !opts.newEdits,
    pin: (digest) => {
      ctx.blobPins.pin(digest);
      pins.push(digest);
    },
    hasBlob: (digest) => ctx.bucket.hasBlob(digest),
    putBlob: (digest, data) => ctx.bucket.putBlob(digest, data),
  });
}

/** Runs the sync function on the new revision (once per prepared write) and on a leaf that becomes the winner. */
function syncFor(ctx: DbContext, current: CurrentDoc, tree: RevTree, rev: string, content: RevisionContent, opts: WriteOptions): RevisionSync {
  const user: SyncUser | null = syncUserOf(opts.user ?? null);
  return {
    result: syncRevision(ctx, current, tree, rev, content, user),
    forWinner: (winner, winnerContent) => syncRevision(ctx, current, tree, winner, winnerContent, user),
  };
}

/** Works out the storage write for one incoming document against the document's current state. */
export async function prepareWrite(ctx: DbContext, current: CurrentDoc, incoming: IncomingDoc, opts: WriteOptions): Promise<Prepared> {
  const pins: string[] = [];
  try {
    return await prepareWithPins(ctx, current, incoming, opts, pins);
  } catch (err) {
    ctx.blobPins.unpin(pins);
    throw err;
  }
}

async function prepareWithPins(ctx: DbContext, current: CurrentDoc, incoming: IncomingDoc, opts: WriteOptions, pins: string[]): Promise<Prepared> {
  const json = bodyJson(ctx, incoming);
  const tree = current.meta?.tree ?? {};
  if (opts.newEdits) {
    const parent = parentForEdit(current, incoming.rev ?? opts.rev);
    const generation = parent ? generationOf(parent) + 1 : 1;
    const attachments = await attachmentsFor(ctx, current, incoming, parent, generation, opts, pins);
    const atts = digestsForRevId(attachments);
    const rev = atts
      ? makeRevId({ parent, deleted: incoming.deleted, body: { ...incoming.body, _attachments: atts } })
      : makeRevIdFromJson({ parent, deleted: incoming.deleted, body: incoming.body }, json);
    if (tree[rev]) throw conflict();
    const next = { rev, tree: addRevision(tree, rev, parent, incoming.deleted), content: { body: incoming.body, attachments, deleted: incoming.deleted, json } };
    const sync = syncFor(ctx, current, next.tree, rev, next.content, opts);
    return { kind: 'commit', rev, commit: planCommit(current, next, ctx.config.revs_limit, sync), pins, bytes: Buffer.byteLength(json) };
  }
  const history = historyOf(incoming);
  const rev = history[0]!;
  if (tree[rev]) return { kind: 'noop', rev };
  const merged = addHistory(tree, history, incoming.deleted).tree;
  const parent = merged[rev]?.parent ?? null;
  const attachments = await attachmentsFor(ctx, current, incoming, parent, generationOf(rev), opts, pins);
  const next = { rev, tree: merged, content: { body: incoming.body, attachments, deleted: incoming.deleted, json } };
  const sync = syncFor(ctx, current, merged, rev, next.content, opts);
  return { kind: 'commit', rev, commit: planCommit(current, next, ctx.config.revs_limit, sync), pins, bytes: Buffer.byteLength(json) };
}
