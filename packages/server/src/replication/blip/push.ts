import { createHash, randomBytes } from 'node:crypto';
import { addMissingLegacyAttachments, type BlipConnection, type IncomingMessage, type IncomingRequest, type OutgoingRequest } from '@syncline/protocol';
import { badRequest, conflict, forbidden, SynclineError } from '../../base/errors.ts';
import { ud, type Logger } from '../../base/logger.ts';
import { generationOf, getNode, isLeaf, isValidRevId, leaves } from '../../document/index.ts';
import { loadUserAccess } from '../../db/access/user-access.ts';
import { attachmentDigest } from '../../db/attachments/digest.ts';
import type { DbContext } from '../../db/context.ts';
import { knownAttachments, type CurrentDoc } from '../../db/crud/current.ts';
import { isPlainObject, splitIncoming } from '../../db/crud/incoming.ts';
import { loadCurrent } from '../../db/crud/read.ts';
import { writeDocument } from '../../db/crud/write.ts';

/**
 * The server side of a push, as Sync Gateway does it with conflicts disallowed: `proposeChanges` (and
 * `changes` from older clients) tell the client which revisions to send, `rev` inserts one revision through
 * the normal write path as a replicated revision (the sync function runs as the connection's user), asking
 * the client for attachment bodies the server lacks (`getAttachment`) and for a proof of possession of those
 * it already has (`proveAttachment`).
 */

export interface PushContext {
  db: DbContext;
  userName: string;
  connection: BlipConnection;
  log: Logger;
  /** Sends a request to the peer on behalf of the handler and waits for the reply (see the session's askPeer). */
  askPeer(request: OutgoingRequest): Promise<IncomingMessage>;
}

/** Sync Gateway's ProposedRevStatus values that go on the wire (OK and OK-is-new are both 0). */
export const ProposedStatus = { ok: 0, exists: 304, conflict: 409 } as const;

function readJsonArray(rq: IncomingMessage): unknown[] {
  let body: unknown;
  try {
    body = rq.body.length === 0 ? [] : rq.bodyJSON();
  } catch {
    throw badRequest('Invalid JSON body');
  }
  if (body === null || body === undefined) return [];
  if (!Array.isArray(body)) throw badRequest('Body must be a JSON array');
  return body;
}

/** Sync Gateway's CheckProposedRev: 0 unless the revision is already the winner (304) or its parent is not (409). */
export function proposedStatus(current: CurrentDoc, rev: string, parent: string): number {
  const meta = current.meta;
  if (!meta) return ProposedStatus.ok;
  if (meta.rev === rev) return ProposedStatus.exists;
  if (meta.rev === parent) return ProposedStatus.ok;
  if (parent === '' && meta.deleted) return ProposedStatus.ok;
  return ProposedStatus.conflict;
}

/** Encodes per-entry statuses as Sync Gateway does: zeros are written only when a non-zero status follows. */
export function encodeStatuses(statuses: readonly number[]): string {
  let end = statuses.length;
  while (end > 0 && statuses[end - 1] === 0) end--;
  return `[${statuses.slice(0, end).join(',')}]`;
}

/** `proposeChanges`: body `[[docID, revID, parentRevID?, bodySize?], ...]`; reply: per-entry status. No channel checks here. */
export async function handleProposeChanges(ctx: PushContext, rq: IncomingRequest): Promise<void> {
  const entries = readJsonArray(rq);
  const statuses: number[] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') throw badRequest('Invalid proposeChanges entry');
    const [id, rev] = entry as [string, string];
    const parent = typeof entry[2] === 'string' ? entry[2] : '';
    if (id.startsWith('_design/')) {
      statuses.push(ProposedStatus.ok);
      continue;
    }
    statuses.push(proposedStatus(await loadCurrent(ctx.db, id), rev, parent));
  }
  rq.respond({ body: encodeStatuses(statuses), compressed: true });
}

/**
 * `changes` from a client that pushes without proposeChanges: body `[[sequence, docID, revID, deleted?, size?], ...]`;
 * reply: per entry 0 when the server has the revision, else the array of leaf revisions of lower generation
 * it has (possible ancestors, so the client can cut the history).
 */
export async function handlePushChanges(ctx: PushContext, rq: IncomingRequest): Promise<void> {
  const entries = readJsonArray(rq);
  const answers: (0 | string[])[] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry) || typeof entry[1] !== 'string' || typeof entry[2] !== 'string') throw badRequest('Invalid changes entry');
    const [, id, rev] = entry as [unknown, string, string];
    const meta = (await loadCurrent(ctx.db, id)).meta;
    if (meta && getNode(meta.tree, rev)) {
      answers.push(0);
      continue;
    }
    const generation = isValidRevId(rev) ? generationOf(rev) : Infinity;
    answers.push(meta ? leaves(meta.tree).filter((r) => generationOf(r) < generation) : []);
  }
  rq.respond({ properties: { maxHistory: String(ctx.db.config.revs_limit) }, body: JSON.stringify(answers), compressed: true });
}

/** Sync Gateway's ProveAttachment: "sha1-" + base64 of SHA-1 over the nonce's length (one byte), the nonce and the data. */
export function proveAttachment(data: Uint8Array, nonce: Uint8Array): string {
  const hash = createHash('sha1');
  hash.update(Uint8Array.of(nonce.length & 0xff));
  hash.update(nonce);
  hash.update(data);
  return `sha1-${hash.digest('base64')}`;
}

const NONCE_BYTES = 20;

const isTrue = (value: string | undefined): boolean => value !== undefined && value !== 'false' && value !== '0' && value !== '';

/** True when the reply is a 404 in either domain: the peer has no handler or no such attachment. */
function isNotFound(reply: IncomingMessage): boolean {
  const error = reply.error;
  return error !== undefined && error.code === 404;
}

/** Asks the client for an attachment body and checks it against the stub's digest and length. */
async function fetchAttachment(ctx: PushContext, docId: string, name: string, digest: string, length: number | undefined): Promise<Buffer> {
  ctx.log.debug({ doc: ud(docId), name: ud(name), digest }, 'asking the client for an attachment');
  const reply = await ctx.askPeer({ profile: 'getAttachment', properties: { digest, docID: docId } });
  const error = reply.error;
  if (error) throw badRequest(`Client could not send attachment ${digest}: ${error.code} ${error.message}`);
  const data = Buffer.from(reply.body);
  if (length !== undefined && data.length !== length) {
    throw badRequest(`Incorrect data sent for attachment with digest: ${digest} (length mismatch - expected ${length} got ${data.length})`);
  }
  const actual = attachmentDigest(data);
  if (actual !== digest) throw badRequest(`Incorrect data sent for attachment with digest: ${digest} (digest mismatch - got ${actual})`);
  return data;
}

/** Asks the client to prove it holds an attachment the server already has; falls back to getAttachment on a 404. */
async function verifyAttachment(ctx: PushContext, docId: string, name: string, digest: string, length: number | undefined, data: Uint8Array): Promise<void> {
  const nonce = randomBytes(NONCE_BYTES);
  const reply = await ctx.askPeer({ profile: 'proveAttachment', properties: { digest }, body: nonce });
  if (isNotFound(reply)) {
    await fetchAttachment(ctx, docId, name, digest, length);
    return;
  }
  if (reply.error) throw badRequest(`proveAttachment failed for ${digest}: ${reply.error.code} ${reply.error.message}`);
  if (reply.body.toString('utf8') !== proveAttachment(data, nonce)) throw forbidden(`Incorrect proof for attachment ${digest}`);
}

/**
 * Makes sure every attachment stub of an incoming revision is available: stubs the document already has
 * (same name and digest) pass; bodies the server has are proved, others fetched from the client. Fetched
 * bodies are returned by name, their stubs rewritten as `follows` so the write path stores them.
 */
async function gatherAttachments(ctx: PushContext, current: CurrentDoc, docId: string, parent: string | null, atts: Record<string, unknown>): Promise<Map<string, Buffer>> {
  const follows = new Map<string, Buffer>();
  const known = knownAttachments(current, parent);
  for (const [name, att] of Object.entries(atts)) {
    if (!isPlainObject(att) || att.stub !== true) continue;
    const digest = att.digest;
    if (typeof digest !== 'string' || digest === '') throw badRequest(`Attachment stub "${name}" has no digest`);
    if (known(name, digest)) continue;
    const length = typeof att.length === 'number' ? att.length : undefined;
    const stored = await ctx.db.bucket.getBlob(digest);
    if (stored) {
      await verifyAttachment(ctx, docId, name, digest, length, stored);
      continue;
    }
    follows.set(name, await fetchAttachment(ctx, docId, name, digest, length));
    const rewritten: Record<string, unknown> = { ...att, follows: true };
    delete rewritten.stub;
    delete rewritten.data;
    atts[name] = rewritten;
  }
  return follows;
}

/** Parses the `history` property: comma-separated ancestors, newest first. */
function parseHistory(text: string | undefined): string[] {
  if (text === undefined || text === '') return [];
  return text.split(',').map((r) => r.trim()).filter((r) => r !== '');
}

/**
 * With `noconflicts`, Sync Gateway refuses a revision that would branch the tree: its newest known ancestor
 * must be the winner, or it starts a new document (or recreates a deleted one), or it tombstones a leaf.
 */
function isIllegalConflict(current: CurrentDoc, ancestor: string | null, deleted: boolean): boolean {
  const meta = current.meta;
  if (!meta) return false;
  if (ancestor === meta.rev) return false;
  if (ancestor === null) return !meta.deleted;
  if (deleted && isLeaf(meta.tree, ancestor)) return false;
  return true;
}

/** Turns the `{rev, history}` pair into the `_revisions` object the write path takes, checking the chain. */
function revisionsOf(rev: string, history: readonly string[]): { start: number; ids: string[] } {
  const chain = [rev, ...history];
  const start = generationOf(rev);
  const ids: string[] = [];
  for (const [i, r] of chain.entries()) {
    if (!isValidRevId(r)) throw badRequest(`Invalid revision ID: ${r}`);
    if (generationOf(r) !== start - i) throw badRequest('History is not a chain of consecutive generations');
    ids.push(r.slice(r.indexOf('-') + 1));
  }
  return { start, ids };
}

/**
 * `rev` from the client: properties `id`, `rev`, `history`, `deleted`, `noconflicts`, `sequence`; body = the
 * revision's JSON with `_attachments` stubs. Inline blobs without their `blob_/<path>` shadow stub get one
 * (see blob-attachments.ts), so they are fetched and stored as attachments. Errors answer this request only
 * (see the session's dispatch).
 */
export async function handleRev(ctx: PushContext, rq: IncomingRequest): Promise<void> {
  const props = rq.properties;
  const id = props.id;
  const rev = props.rev;
  if (id === undefined || id === '' || rev === undefined || rev === '') throw badRequest('Missing docID or rev');
  if (props.deltaSrc !== undefined) throw badRequest('Deltas are disabled for this peer');
  if (!isValidRevId(rev)) throw badRequest(`Invalid revision ID: ${rev}`);
  const history = parseHistory(props.history);
  const revisions = revisionsOf(rev, history);
  const deleted = isTrue(props.deleted);
  const noConflicts = isTrue(props.noconflicts);

  let body: unknown;
  try {
    body = rq.body.length === 0 ? {} : rq.bodyJSON();
  } catch {
    throw badRequest('Invalid JSON body');
  }
  if (!isPlainObject(body)) throw badRequest('Revision body must be a JSON object');
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(addMissingLegacyAttachments(body, revisions.start))) {
    if (key === '_id' || key === '_rev' || key === '_deleted' || key === '_revisions' || key === '_removed') continue;
    raw[key] = value;
  }
  raw._id = id;
  raw._rev = rev;
  raw._revisions = revisions;
  if (deleted) raw._deleted = true;

  const access = await loadUserAccess(ctx.db, ctx.userName);
  if (!access || access.user.disabled) throw forbidden('User has no access');

  const current = await loadCurrent(ctx.db, id);
  const tree = current.meta?.tree;
  if (tree && getNode(tree, rev)) {
    rq.respond();
    return;
  }
  const ancestor = tree ? (history.find((r) => getNode(tree, r) !== undefined) ?? null) : null;
  if (noConflicts && isIllegalConflict(current, ancestor, deleted)) throw conflict('Document revision conflict');

  const attachments = isPlainObject(raw._attachments) ? { ...raw._attachments } : undefined;
  let follows: Map<string, Buffer> | undefined;
  if (attachments) {
    follows = await gatherAttachments(ctx, current, id, ancestor, attachments);
    raw._attachments = attachments;
  }
  const incoming = splitIncoming(raw);
  try {
    await writeDocument(ctx.db, incoming, { newEdits: false, user: access, ...(follows && follows.size > 0 ? { follows } : {}) });
  } catch (err) {
    if (err instanceof SynclineError) ctx.log.debug({ doc: ud(id), rev, status: err.status, reason: err.reason }, 'pushed revision refused');
    throw err;
  }
  rq.respond();
}
