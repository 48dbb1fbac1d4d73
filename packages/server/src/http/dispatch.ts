import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, forbidden, methodNotAllowed, notFound, unavailable } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import type { ServerContext } from '../server-context.ts';
import { validateDocId } from '../db/crud/incoming.ts';
import { checkRestClientSync } from '../edge/client-sync.ts';
import { authenticateRequest } from './authenticate.ts';
import { applyCors } from './cors.ts';
import { allDbs, serverInfo } from './handlers/server.ts';
import { createDatabase } from './handlers/database.ts';
import { expvarHandler, metricsHandler } from './handlers/metrics.ts';
import { routeMatched } from '../metrics/registry.ts';
import { readyHandler } from './metrics-api.ts';
import { clusterHandler } from './handlers/cluster.ts';
import { postServerReplicate } from './handlers/replication.ts';
import { Query } from './query.ts';
import { errorReply, sendReply } from './response.ts';
import type { Method, Reply, RequestContext, ServerHandler } from './route-types.ts';
import { matchDatabaseRoute } from './routes.ts';

const METHODS = new Set<string>(['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);

function splitUrl(url: string): { segments: string[]; query: URLSearchParams } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const raw = path.split('/').slice(1);
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  const segments = raw.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw badRequest('Malformed percent-encoding in URL');
    }
  });
  return { segments, query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)) };
}

const READ = ['GET', 'HEAD'];

/** Server-level endpoints of the admin API only (on the public API they are unknown URLs). */
const ADMIN_SERVER_ROUTES: ReadonlyMap<string, { methods: readonly string[]; handler: ServerHandler }> = new Map([
  ['_expvar', { methods: READ, handler: expvarHandler }],
  ['_metrics', { methods: READ, handler: metricsHandler }],
  ['_ready', { methods: READ, handler: readyHandler }],
  ['_cluster', { methods: READ, handler: clusterHandler }],
  ['_replicate', { methods: ['POST'], handler: postServerReplicate }],
]);

async function route(base: Omit<RequestContext, 'params' | 'query' | 'db' | 'user'>, url: string): Promise<Reply> {
  const method = base.req.method ?? 'GET';
  if (!METHODS.has(method)) throw methodNotAllowed();
  const { segments, query } = splitUrl(url);
  const ctx: RequestContext = { ...base, params: {}, query: new Query(query), db: undefined, user: null };
  const [first, ...rest] = segments;
  if (first === undefined) {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed();
    return serverInfo(ctx);
  }
  if (first === '_all_dbs' && segments.length === 1) {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed();
    if (!base.admin) throw forbidden('Admin API only');
    return allDbs(ctx);
  }
  const adminRoute = base.admin && segments.length === 1 ? ADMIN_SERVER_ROUTES.get(first) : undefined;
  if (adminRoute) {
    if (!adminRoute.methods.includes(method)) throw methodNotAllowed();
    return adminRoute.handler(ctx);
  }
  if (first.startsWith('_')) throw notFound('unknown URL');
  ctx.params.db = first;
  if (rest.length === 0 && method === 'PUT') {
    if (!base.admin) throw forbidden('Admin API only');
    return createDatabase(ctx);
  }
  const db = base.server.database(first);
  const match = matchDatabaseRoute(rest);
  if (match.candidates.length === 0) {
    if (method === 'PUT' && rest.length === 1) validateDocId(rest[0]);
    throw notFound(rest[0]?.startsWith('_') ? 'unknown URL' : 'missing');
  }
  const found = match.candidates.find((r) => r.method === (method as Method));
  routeMatched(base.req, (found ?? match.candidates[0]!).path);
  if (!found) throw methodNotAllowed();
  if (found.adminOnly && !base.admin) throw forbidden('Admin API only');
  // Admin endpoints (config, delete) still work on an offline database, so that it can be brought back.
  if (db.state !== 'Online' && !found.adminOnly) throw unavailable(`Database "${first}" is offline`);
  const dbCtx = { ...ctx, db, params: { ...ctx.params, ...match.params } };
  if (!base.admin) dbCtx.user = await authenticateRequest(dbCtx, found.auth ?? 'required');
  // Edge mode: enable_client_sync limits which way public-API clients may sync (edge/client-sync.ts).
  if (!base.admin) checkRestClientSync(db.config.enable_client_sync, found.method, found.path);
  return found.handler(dbCtx);
}

let requestCounter = 0;

/** Handles one HTTP request on either listener: routing, errors as {"error","reason"}, logging. */
export async function dispatch(server: ServerContext, admin: boolean, log: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const id = ++requestCounter;
  // Streamed responses (change feeds) are counted but not timed: they last as long as the client listens.
  const counted = (timed: boolean) => server.metrics.observeRequest(admin ? 'admin' : 'public', res.statusCode, timed ? (performance.now() - started) / 1000 : undefined, req);
  const abort = new AbortController();
  // Only a client that goes away mid-response needs the signal (building the abort reason is not free).
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  if (applyCors(server.config.CORS, req, res)) {
    counted(true);
    return;
  }
  let reply: Reply;
  try {
    reply = await route({ req, res, admin, server, signal: abort.signal }, req.url ?? '/');
  } catch (err) {
    reply = errorReply(err, log);
    if (res.headersSent) {
      res.end();
      counted(false);
      return;
    }
  }
  if (!req.complete) req.resume();
  try {
    sendReply(res, reply, req.method === 'HEAD');
  } catch (err) {
    reply = errorReply(err, log);
    if (res.headersSent) res.destroy();
    else sendReply(res, reply, req.method === 'HEAD');
  }
  const status = 'status' in reply ? reply.status : res.statusCode;
  counted(!('streamed' in reply));
  log.debug({ req: id, method: req.method, url: req.url, status, ms: Math.round(performance.now() - started) }, 'request');
}
