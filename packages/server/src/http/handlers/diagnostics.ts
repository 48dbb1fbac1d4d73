import type { IncomingMessage } from 'node:http';
import { badRequest } from '../../base/errors.ts';
import type { SyncUser } from '../../channels/index.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import {
  docChannelHistory,
  importFilterDryRun,
  syncDryRun,
  type ImportFilterDryRunInput,
  type SyncDryRunInput,
} from '../../db/diagnostics.ts';
import { readJson } from '../body.ts';
import type { Query } from '../query.ts';
import type { Handler } from '../route-types.ts';
import { getAttachmentHandler } from './attachments.ts';

type Body = Record<string, unknown>;

const SYNC_SHAPE = '{"doc", "oldDoc", "doc_id", "sync_function", "userCtx", "user", "meta"}';
const IMPORT_SHAPE = '{"doc", "doc_id", "import_filter"}';
const SYNC_KEYS = new Set(['doc', 'oldDoc', 'doc_id', 'sync_function', 'userCtx', 'user', 'meta']);
const IMPORT_KEYS = new Set(['doc', 'doc_id', 'import_filter']);
const USER_CTX_KEYS = new Set(['name', 'roles', 'channels']);

function requestObject(body: unknown, keys: ReadonlySet<string>, shape: string): Body {
  if (body === undefined) return {};
  if (!isPlainObject(body)) throw badRequest(`Request body must be a JSON object ${shape}`);
  const unknown = Object.keys(body).find((key) => !keys.has(key));
  if (unknown !== undefined) throw badRequest(`Unknown member ${JSON.stringify(unknown)} in the request body; expected ${shape}`);
  return body;
}

/** An optional member that must be a JSON object; null counts as absent. */
function optionalObject(body: Body, key: string): Body | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw badRequest(`${key} must be a JSON object`);
  return value;
}

/** An optional string; null and "" count as absent, as in Sync Gateway. */
function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} must be a string`);
  return value;
}

/** A parameter accepted in the query string or in the body (the same value when both give it). */
function queryOrBody(query: Query, body: Body, name: string): string | undefined {
  const fromQuery = optionalString(query.string(name), name);
  const fromBody = optionalString(body[name], name);
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw badRequest(`${name} differs between the query string and the body`);
  }
  return fromBody ?? fromQuery;
}

function stringList(value: unknown, name: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw badRequest(`${name} must be an array of strings`);
  return value as string[];
}

/** Sync Gateway's `userCtx`: a user that need not exist, with the roles and channels require* checks see. */
function parseUserCtx(value: unknown): SyncUser | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw badRequest('userCtx must be a JSON object');
  const unknown = Object.keys(value).find((key) => !USER_CTX_KEYS.has(key));
  if (unknown !== undefined) throw badRequest(`Unknown member ${JSON.stringify(unknown)} in userCtx; expected {"name", "roles", "channels"}`);
  const name = optionalString(value.name, 'userCtx.name');
  if (name === undefined) throw badRequest('no user name provided');
  return { name, roles: stringList(value.roles, 'userCtx.roles'), channels: stringList(value.channels, 'userCtx.channels') };
}

/** `meta` as Sync Gateway takes it: only `xattrs`, which needs a user xattr key Syncline does not have. */
function checkMeta(body: Body): void {
  const meta = optionalObject(body, 'meta');
  if (meta && meta.xattrs !== undefined && meta.xattrs !== null) throw badRequest('no user xattr key configured for this database');
}

/** The request of `/{db}/_sync`: Sync Gateway's JSON body, with `doc_id` and `user` also accepted as query parameters. */
export function parseSyncDryRun(raw: unknown, query: Query): SyncDryRunInput {
  const body = requestObject(raw, SYNC_KEYS, SYNC_SHAPE);
  checkMeta(body);
  const input: SyncDryRunInput = {};
  const doc = optionalObject(body, 'doc');
  if (doc) input.doc = doc;
  const oldDoc = optionalObject(body, 'oldDoc');
  if (oldDoc) input.oldDoc = oldDoc;
  const docId = queryOrBody(query, body, 'doc_id');
  if (docId !== undefined) input.docId = docId;
  const source = optionalString(body.sync_function, 'sync_function');
  if (source !== undefined) input.syncFunction = source;
  const userCtx = parseUserCtx(body.userCtx);
  if (userCtx) input.userCtx = userCtx;
  const user = queryOrBody(query, body, 'user');
  if (user !== undefined) input.userName = user;
  return input;
}

/** The request of `/{db}/_import_filter`: Sync Gateway's JSON body, with `doc_id` also accepted as a query parameter. */
export function parseImportFilterDryRun(raw: unknown, query: Query): ImportFilterDryRunInput {
  const body = requestObject(raw, IMPORT_KEYS, IMPORT_SHAPE);
  const input: ImportFilterDryRunInput = {};
  const doc = optionalObject(body, 'doc');
  if (doc) input.doc = doc;
  const docId = queryOrBody(query, body, 'doc_id');
  if (docId !== undefined) input.docId = docId;
  const source = optionalString(body.import_filter, 'import_filter');
  if (source !== undefined) input.importFilter = source;
  return input;
}

/** The JSON body of a request that may have none (a GET with its parameters in the query string). */
async function optionalJson(req: IncomingMessage): Promise<unknown> {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  return hasBody ? readJson(req) : undefined;
}

/** `GET|POST /{db}/_sync`: the sync function's result for a document, without writing it. */
export const syncDryRunHandler: Handler = async ({ db, req, query }) => {
  const input = parseSyncDryRun(await optionalJson(req), query);
  return { status: 200, json: await syncDryRun(db, input) };
};

/**
 * `GET|POST /{db}/_import_filter`: whether a document would be imported. The response carries the filter's
 * error both as `exception` (current Sync Gateway) and as `error` (Sync Gateway 3.2).
 */
export const importFilterDryRunHandler: Handler = async ({ db, req, query }) => {
  const result = await importFilterDryRun(db, parseImportFilterDryRun(await optionalJson(req), query));
  return { status: 200, json: { ...result, error: result.exception } };
};

/**
 * `GET /{db}/{doc}/_all_channels` on the admin API: the document's channel history. On the public API the
 * path still names an attachment called `_all_channels`.
 */
export const docAllChannelsHandler: Handler = async (ctx) => {
  if (!ctx.admin) return getAttachmentHandler({ ...ctx, params: { ...ctx.params, attachment: '_all_channels' } });
  return { status: 200, json: await docChannelHistory(ctx.db, ctx.params.doc!) };
};
