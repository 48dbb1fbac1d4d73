import type { IncomingMessage } from 'node:http';
import { internalError, SynclineError } from '../base/errors.ts';
import { GUEST_USERNAME } from '../auth/principal.ts';
import { SESSION_COOKIE_NAME } from '../auth/sessions.ts';
import { accessOf, type UserAccess } from '../db/access/user-access.ts';
import type { Database } from '../db/database.ts';
import { readCookie, sessionCookie } from './cookies.ts';
import type { RequestContext } from './route-types.ts';

/**
 * Authentication of public-API requests under /{db}/, in Sync Gateway's order:
 *  1. `Authorization: Basic` credentials: wrong ones are refused (401 "Invalid login") whatever else is sent;
 *  2. the `SyncGatewaySession` cookie: an unknown, expired or invalidated session is refused (401 "Session
 *     Invalid") on routes that require a login;
 *  3. otherwise the GUEST user, when it is enabled (401 "Login required" when it is not).
 * Like Sync Gateway, an Authorization header that is not well-formed Basic is ignored (but makes a refusal say
 * "Invalid login" rather than "Login required"). The admin listener does not authenticate.
 */

const WWW_AUTHENTICATE = 'Basic realm="SyncGateway"';

/** Sync Gateway's 401 body: `{"error":"Unauthorized","reason":...}`. */
export const loginError = (reason: string): SynclineError => new SynclineError(401, 'Unauthorized', reason);

export interface Credentials {
  basic: { name: string; password: string } | undefined;
  sessionId: string | undefined;
  /** Whether the request carried any credentials at all (a header or a session cookie). */
  provided: boolean;
}

/** Basic credentials as Sync Gateway reads them: a base64 "name:password" with a non-empty name. */
function parseBasic(header: string | undefined): Credentials['basic'] {
  if (header === undefined) return undefined;
  const match = /^Basic +([A-Za-z0-9+/=]*) *$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function readCredentials(req: IncomingMessage): Credentials {
  const header = req.headers.authorization;
  const cookie = readCookie(req.headers.cookie, SESSION_COOKIE_NAME);
  const sessionId = cookie === '' ? undefined : cookie;
  return { basic: parseBasic(header), sessionId, provided: header !== undefined || sessionId !== undefined };
}

/**
 * Resolves who a public-API request acts for, or throws 401. May set WWW-Authenticate or Set-Cookie.
 * Counts the outcome and the time taken in the database's stats (Sync Gateway's security stats).
 */
export async function authenticateRequest(ctx: RequestContext & { db: Database }, mode: 'required' | 'optional'): Promise<UserAccess> {
  const { stats } = ctx.db;
  const started = process.hrtime.bigint();
  try {
    const user = await resolveUser(ctx, mode);
    stats.authSuccess++;
    return user;
  } catch (err) {
    stats.authFailed++;
    throw err;
  } finally {
    stats.authTimeNs += Number(process.hrtime.bigint() - started);
  }
}

async function resolveUser(ctx: RequestContext & { db: Database }, mode: 'required' | 'optional'): Promise<UserAccess> {
  const { db, req, res } = ctx;
  const credentials = readCredentials(req);
  const challenge = (): void => {
    if (db.config.send_www_authenticate_header) res.setHeader('WWW-Authenticate', WWW_AUTHENTICATE);
  };

  if (credentials.basic) {
    const user = await db.auth.authenticate(credentials.basic.name, credentials.basic.password);
    if (!user) {
      challenge();
      throw loginError('Invalid login');
    }
    return accessOf(db, user);
  }

  if (credentials.sessionId !== undefined) {
    const session = await db.auth.getSession(credentials.sessionId);
    if (session) {
      // Sliding expiry: the store extended the session, so the browser's cookie must be extended too.
      if (session.renewed) res.setHeader('Set-Cookie', sessionCookie(db.name, credentials.sessionId, session.expires));
      return accessOf(db, session.user);
    }
    if (mode === 'required') throw loginError('Session Invalid');
  }

  const guest = await db.auth.getUser(GUEST_USERNAME);
  if (!guest) throw internalError('GUEST user unavailable');
  if (guest.disabled && mode === 'required') {
    challenge();
    throw loginError(credentials.provided ? 'Invalid login' : 'Login required');
  }
  return accessOf(db, guest);
}

/** Whether the request acts for a real, enabled user (not GUEST, not the admin). */
export function isLoggedIn(user: UserAccess | null): user is UserAccess {
  return user !== null && user.name !== GUEST_USERNAME && !user.user.disabled;
}
