import { GUEST_USERNAME, isValidPrincipalName } from '../../auth/principal.ts';
import type { UserRecord } from '../../auth/records.ts';
import { DEFAULT_SESSION_TTL_SECONDS, SESSION_COOKIE_NAME } from '../../auth/sessions.ts';
import { badRequest, notFound } from '../../base/errors.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import { accessOf, type UserAccess } from '../../db/access/user-access.ts';
import { isLoggedIn, loginError } from '../authenticate.ts';
import { mediaType, readBody, readJson } from '../body.ts';
import { clearedSessionCookie, readCookie, sessionCookie } from '../cookies.ts';
import type { Handler, Reply, RequestContext } from '../route-types.ts';

/**
 * /{db}/_session. Public API: GET describes the current login, POST logs in (cookie session), DELETE logs out.
 * Admin API: POST creates a session for a user (for apps that log their users in themselves), and
 * /{db}/_session/{id}, /{db}/_user/{name}/_session[/{id}] inspect and end sessions.
 */

const LOGIN_BODY_LIMIT = 64 * 1024;

/** Sync Gateway's (CouchDB-like) session description; `name` is null for GUEST and the admin. */
export function sessionInfo(user: UserAccess | null): unknown {
  const name = user && user.name !== GUEST_USERNAME ? user.name : null;
  const channels = user ? Object.fromEntries([...user.channels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : {};
  return { authentication_handlers: ['default', 'cookie'], ok: true, userCtx: { channels, name } };
}

/** Like Sync Gateway: logging in and out with cookies is refused from origins not listed in CORS.login_origin. */
function checkLoginOrigin({ req, server }: RequestContext): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  if (!(server.config.CORS?.login_origin ?? []).includes(origin)) throw badRequest('No CORS');
}

/** `{name, password}` from a JSON or form-encoded body. */
async function readLogin(ctx: RequestContext): Promise<{ name: string; password: string }> {
  let body: unknown;
  if (mediaType(ctx.req) === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams((await readBody(ctx.req, LOGIN_BODY_LIMIT)).toString('utf8'));
    body = { name: form.get('name') ?? undefined, password: form.get('password') ?? undefined };
  } else {
    body = await readJson(ctx.req);
  }
  if (!isPlainObject(body)) throw badRequest('Login body must be a JSON object with "name" and "password"');
  const { name, password } = body;
  if ((name !== undefined && typeof name !== 'string') || (password !== undefined && typeof password !== 'string')) {
    throw badRequest('"name" and "password" must be strings');
  }
  return { name: name ?? '', password: password ?? '' };
}

export const getSession: Handler = async ({ user }) => ({ status: 200, json: sessionInfo(user) });

/** Public POST: logs in with the body's credentials (or, without usable ones, as the user the request authenticated as). */
async function login(ctx: Parameters<Handler>[0]): Promise<Reply> {
  checkLoginOrigin(ctx);
  const { db } = ctx;
  let user: UserRecord | null = null;
  try {
    const { name, password } = await readLogin(ctx);
    if (name !== '') user = await db.auth.authenticate(name, password);
  } catch (err) {
    if (!isLoggedIn(ctx.user)) throw err;
  }
  if (!user && isLoggedIn(ctx.user)) user = ctx.user.user;
  if (!user) throw loginError('Invalid login');
  const session = await db.auth.createSession(user.name);
  return {
    status: 200,
    json: sessionInfo(await accessOf(db, user)),
    headers: { 'Set-Cookie': sessionCookie(db.name, session.session_id, new Date(session.expires)) },
  };
}

/** Admin POST: `{"name", "ttl"}` → a session id the app hands to its client as the SyncGatewaySession cookie. */
async function createForUser({ db, req }: Parameters<Handler>[0]): Promise<Reply> {
  const body = await readJson(req);
  if (!isPlainObject(body)) throw badRequest('Request body must be a JSON object');
  const { name, ttl } = body;
  if (typeof name !== 'string' || name === GUEST_USERNAME || !isValidPrincipalName(name)) {
    throw badRequest('Invalid or missing user name');
  }
  const seconds = ttl === undefined || ttl === null ? DEFAULT_SESSION_TTL_SECONDS : ttl;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 1) throw badRequest('Invalid or missing ttl');
  if (!(await db.auth.getUser(name))) throw notFound(`No such user "${name}"`);
  const session = await db.auth.createSession(name, seconds);
  // RFC 3339 without fractional seconds, as Sync Gateway writes it.
  const expires = new Date(session.expires).toISOString().replace(/\.\d+Z$/, 'Z');
  return { status: 200, json: { session_id: session.session_id, expires, cookie_name: session.cookie_name } };
}

export const postSession: Handler = (ctx) => (ctx.admin ? createForUser(ctx) : login(ctx));

/** Public DELETE: ends the session of the request's cookie and clears the cookie. */
export const deleteSession: Handler = async (ctx) => {
  checkLoginOrigin(ctx);
  const id = readCookie(ctx.req.headers.cookie, SESSION_COOKIE_NAME);
  if (!id) throw notFound('no session');
  await ctx.db.auth.deleteSession(id);
  return { status: 200, body: '', headers: { 'Set-Cookie': clearedSessionCookie(ctx.db.name) } };
};

// ---- admin: sessions by id ----

export const getSessionById: Handler = async ({ db, params }) => {
  const session = await db.auth.getSession(params.session);
  if (!session) throw notFound('missing');
  return { status: 200, json: sessionInfo(await accessOf(db, session.user)) };
};

export const deleteSessionById: Handler = async ({ db, params }) => {
  if (!(await db.auth.deleteSession(params.session))) throw notFound('missing');
  return { status: 200, body: '', headers: {} };
};

export const deleteUserSessions: Handler = async ({ db, params }) => {
  if (!(await db.auth.deleteUserSessions(params.name!))) throw notFound('missing');
  return { status: 200, body: '', headers: {} };
};

/** Ends one session, only if it belongs to the named user. */
export const deleteUserSession: Handler = async ({ db, params }) => {
  const session = await db.auth.getSession(params.session);
  if (!session || session.name !== params.name || !(await db.auth.deleteSession(params.session))) throw notFound('missing');
  return { status: 200, body: '', headers: {} };
};
