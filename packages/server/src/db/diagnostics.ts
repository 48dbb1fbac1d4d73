/**
 * Dry runs of the database's JavaScript (Sync Gateway's diagnostic API): the sync function or the import filter
 * evaluated on a document given in the request or read from storage, and a document's channel history. Nothing
 * here writes: stored documents are read as they are, without the on-demand import a client read triggers, and
 * no sequence is allocated.
 */
import { badRequest, notFound } from '../base/errors.ts';
import { ImportFilter, SyncFunction, type SyncResult, type SyncUser } from '../channels/index.ts';
import { makeRevId } from '../document/index.ts';
import { loadUserAccess, syncUserOf } from './access/user-access.ts';
import { digestsForRevId } from './attachments/resolve.ts';
import type { DbContext } from './context.ts';
import { revisionContent, toCurrent } from './crud/current.ts';
import { isPlainObject, splitIncoming, validateDocId } from './crud/incoming.ts';
import { syncDoc } from './crud/sync-run.ts';
import { needsImport } from './import/import-doc.ts';

/** `_id` of a document given without one (Sync Gateway's name for it). */
export const DRY_RUN_DOC_ID = 'sync_dryrun';

/** Console output of the function; Syncline's sandbox has no console, so both lists stay empty. */
export interface DryRunLogging {
  errors: string[];
  info: string[];
}

export interface SyncDryRunInput {
  /** The new revision's body; with `docId`, the stored document is its `oldDoc`. */
  doc?: Record<string, unknown>;
  /** `oldDoc` for `doc`; not with `docId`. */
  oldDoc?: Record<string, unknown>;
  /** A stored document: alone, its current revision is `doc` (and `oldDoc` is null). */
  docId?: string;
  /** Source of a sync function to run instead of the database's, compiled for this call only. */
  syncFunction?: string;
  /** The writing user as given (Sync Gateway's `userCtx`): it need not exist. */
  userCtx?: SyncUser;
  /** An existing user whose current channels and roles the require* calls check. */
  userName?: string;
}

export interface SyncDryRunOutput {
  channels: string[];
  access: Record<string, string[]>;
  roles: Record<string, string[]>;
  /** Absolute Unix time in seconds set by `expiry()`. */
  expiry?: number;
  /** Why the write would be refused: "STATUS reason", as Sync Gateway shows a rejection. */
  exception?: string;
  logging: DryRunLogging;
  /** Values the builtins ignored (a non-string channel name...). */
  warnings: string[];
}

export interface ImportFilterDryRunInput {
  doc?: Record<string, unknown>;
  docId?: string;
  /** Source of an import filter to run instead of the database's, compiled for this call only. */
  importFilter?: string;
}

export interface ImportFilterDryRunOutput {
  shouldImport: boolean;
  /** Why the document would not be imported when the filter failed ("" otherwise). */
  exception: string;
  logging: DryRunLogging;
}

/** One revision as the sync function would see it, read from storage. */
interface StoredRevision {
  rev: string;
  doc: Record<string, unknown>;
  /** User properties of a live revision; null for a tombstone. */
  body: Record<string, unknown> | null;
}

type StoredRead = StoredRevision | { unimportable: string };

const timeoutMs = (ctx: DbContext): number => Math.round(ctx.config.javascript_timeout_secs * 1000);

/** Reads a body row written outside the gateway as its import would: a JSON object without `_` members. */
function appBody(text: string): Record<string, unknown> | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return `body is not valid JSON: ${(err as Error).message}`;
  }
  if (!isPlainObject(body)) return 'body is not a JSON object';
  const reserved = Object.keys(body).find((key) => key.startsWith('_'));
  return reserved === undefined ? body : `top-level property "${reserved}" is reserved`;
}

/**
 * The current revision of a stored document. A direct write not imported yet is read as the revision its import
 * would create (same revision ID), without importing it; 404 when the document does not exist.
 */
async function readStored(ctx: DbContext, id: string): Promise<StoredRead> {
  validateDocId(id);
  const stored = await ctx.collection.get(id);
  const current = toCurrent(id, stored);
  const meta = current.meta;
  if (!stored || (stored.body === null && meta === null)) throw notFound('missing');
  if (!needsImport(stored)) {
    const content = meta ? revisionContent(current, meta.rev) : null;
    if (!meta || !content) throw notFound('missing');
    return { rev: meta.rev, doc: syncDoc(id, meta.rev, content), body: content.deleted ? null : content.body };
  }
  const parent = meta?.rev ?? null;
  if (stored.body === null) {
    const rev = makeRevId({ parent, deleted: true, body: {} });
    return { rev, doc: { _id: id, _rev: rev, _deleted: true }, body: null };
  }
  const body = appBody(stored.body);
  if (typeof body === 'string') return { unimportable: body };
  const attachments = meta && !meta.deleted ? meta.attachments : {};
  const digests = digestsForRevId(attachments);
  const rev = makeRevId({ parent, deleted: false, body: digests ? { ...body, _attachments: digests } : body });
  return { rev, doc: syncDoc(id, rev, { body, attachments, deleted: false }), body };
}

async function requireStored(ctx: DbContext, id: string): Promise<StoredRevision> {
  const read = await readStored(ctx, id);
  if ('unimportable' in read) throw notFound(`Not imported: ${read.unimportable}`);
  return read;
}

/** `doc` of the request as the sync function sees a write of it: `_id`, a new `_rev`, `_deleted`, `_attachments`. */
function requestRevision(doc: Record<string, unknown>, docId: string | undefined, stored: StoredRevision | null): Record<string, unknown> {
  const inlineId = doc._id;
  if (docId === undefined && inlineId !== undefined && typeof inlineId !== 'string') throw badRequest('_id must be a string');
  const id = docId ?? (inlineId as string | undefined) ?? DRY_RUN_DOC_ID;
  const incoming = splitIncoming({ ...doc, _id: id });
  const parent = incoming.rev ?? stored?.rev ?? null;
  const withAtts = incoming.attachments ? { ...incoming.body, _attachments: incoming.attachments } : incoming.body;
  const rev = makeRevId({ parent, deleted: incoming.deleted, body: withAtts });
  const out: Record<string, unknown> = { ...withAtts, _id: id, _rev: rev };
  if (incoming.deleted) out._deleted = true;
  return out;
}

async function dryRunUser(ctx: DbContext, input: SyncDryRunInput): Promise<SyncUser | null> {
  if (input.userCtx) return input.userCtx;
  if (input.userName === undefined) return null;
  const access = await loadUserAccess(ctx, input.userName);
  if (!access) throw notFound(`no such user "${input.userName}"`);
  return syncUserOf(access);
}

/** Compiles a function given in the request (400 naming the error when it does not compile). */
function compileCustom<T>(ctx: DbContext, field: string, kind: string, compile: () => T): T {
  try {
    return compile();
  } catch (err) {
    const message = (err as Error).message;
    const prefix = `${kind} of database "${ctx.name}": `;
    throw badRequest(`${field} does not compile: ${message.startsWith(prefix) ? message.slice(prefix.length) : message}`);
  }
}

/** The response fields in Sync Gateway's order: exception and expiry only when there is one. */
function syncOutput(result: SyncResult): SyncDryRunOutput {
  const { rejection, expiry } = result;
  return {
    channels: result.channels,
    access: result.access,
    roles: result.roles,
    ...(rejection ? { exception: `${rejection.status} ${rejection.reason}` } : {}),
    ...(expiry !== undefined ? { expiry } : {}),
    logging: { errors: [], info: [] },
    warnings: result.warnings,
  };
}

/**
 * Runs the sync function (the database's, or one given) as a write would: `doc` alone has no `oldDoc`; `doc`
 * with `docId` replaces the stored document, which is its `oldDoc`; `docId` alone re-evaluates the stored
 * current revision. Admin (every require* passes) unless a user is given.
 */
export async function syncDryRun(ctx: DbContext, input: SyncDryRunInput): Promise<SyncDryRunOutput> {
  if (input.doc === undefined && input.docId === undefined) throw badRequest('must provide either doc_id or doc');
  if (input.oldDoc !== undefined && input.docId !== undefined) throw badRequest('cannot specify doc_id with a provided oldDoc');
  if (input.userCtx && input.userName !== undefined) throw badRequest('give either user or userCtx, not both');
  const user = await dryRunUser(ctx, input);
  const stored = input.docId === undefined ? null : await requireStored(ctx, input.docId);
  let doc: Record<string, unknown>;
  let oldDoc: Record<string, unknown> | null = null;
  if (input.doc === undefined) {
    doc = stored!.doc;
  } else {
    doc = requestRevision(input.doc, input.docId, stored);
    if (stored) oldDoc = stored.doc;
    else if (input.oldDoc) oldDoc = { _id: doc._id, ...input.oldDoc };
  }
  const source = input.syncFunction;
  const fn = source === undefined
    ? ctx.syncFunction
    : compileCustom(ctx, 'sync_function', 'sync function', () => SyncFunction.compile(source, { dbName: ctx.name, timeoutMs: timeoutMs(ctx) }));
  try {
    const result = fn.run(doc, oldDoc, {}, user);
    ctx.log.debug({ id: doc._id, custom: source !== undefined, rejected: result.rejection?.status }, 'sync function dry run');
    return syncOutput(result);
  } finally {
    if (fn !== ctx.syncFunction) fn.dispose();
  }
}

/**
 * Runs the import filter (the database's, or one given) on a document given in the request or on the body row of
 * a stored one, as import would (with its `_id`). Without a filter every document is imported; a filter that
 * throws or times out does not import, with the error in `exception`.
 */
export async function importFilterDryRun(ctx: DbContext, input: ImportFilterDryRunInput): Promise<ImportFilterDryRunOutput> {
  if (input.doc !== undefined && input.docId !== undefined) {
    throw badRequest('doc body and doc id provided. Please provide either the body or a doc id for the import filter dry run');
  }
  let doc: Record<string, unknown>;
  if (input.doc !== undefined) {
    doc = input.doc;
  } else if (input.docId !== undefined) {
    const read = await readStored(ctx, input.docId);
    if ('unimportable' in read) return { shouldImport: false, exception: read.unimportable, logging: { errors: [], info: [] } };
    if (read.body === null) throw notFound('deleted');
    doc = { ...read.body, _id: input.docId };
  } else {
    throw badRequest('no doc body and doc id provided. Please provide either the body or a doc id for the import filter dry run');
  }
  const source = input.importFilter;
  const filter = source === undefined
    ? ctx.importFilter
    : compileCustom(ctx, 'import_filter', 'import filter', () => ImportFilter.compile(source, { dbName: ctx.name, timeoutMs: timeoutMs(ctx) }));
  try {
    const verdict = filter ? filter.run(doc) : { accepted: true };
    return { shouldImport: verdict.accepted, exception: verdict.error ?? '', logging: { errors: [], info: [] } };
  } finally {
    if (filter !== ctx.importFilter) filter?.dispose();
  }
}

/**
 * Channel history of a stored document, in Sync Gateway's `{channel: ["START-END"]}` form: the sequence at which
 * the document last entered each channel (0 when written before entries were recorded) and the one at which it
 * left (0 while it is still in).
 */
export async function docChannelHistory(ctx: DbContext, id: string): Promise<Record<string, string[]>> {
  validateDocId(id);
  const stored = await ctx.collection.get(id);
  if (!stored || (stored.body === null && stored.meta === null)) throw notFound('missing');
  const meta = toCurrent(id, stored).meta;
  const out: Record<string, string[]> = {};
  const set = (channel: string, end: number) => {
    const start = meta?.joined && Object.hasOwn(meta.joined, channel) ? (meta.joined[channel] ?? 0) : 0;
    Object.defineProperty(out, channel, { value: [`${start}-${end}`], enumerable: true, writable: true, configurable: true });
  };
  if (!meta) return out;
  for (const channel of meta.channels) set(channel, 0);
  for (const [channel, seq] of Object.entries(meta.removed ?? {})) if (!Object.hasOwn(out, channel)) set(channel, seq);
  return out;
}
