import { SESSION_COOKIE_NAME } from '../auth/sessions.ts';

/** The value of the first cookie called `name` in a Cookie header, or undefined. Never throws. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/**
 * Sessions are per database: the cookie is only sent back for that database's URLs. Database names
 * (`[a-z][a-z0-9_$()+-]*`) are valid in a cookie path as they are, and are matched against the request path
 * as written, so they are not percent-encoded; anything else is.
 */
const cookiePath = (dbName: string): string => `/${/^[a-z0-9_$()+-]+$/.test(dbName) ? dbName : encodeURIComponent(dbName)}`;

/** Set-Cookie value for a login session of database `dbName`. */
export function sessionCookie(dbName: string, sessionId: string, expires: Date): string {
  return `${SESSION_COOKIE_NAME}=${sessionId}; Path=${cookiePath(dbName)}; Expires=${expires.toUTCString()}; HttpOnly`;
}

/** Set-Cookie value that makes the client drop its session cookie (logout). */
export function clearedSessionCookie(dbName: string): string {
  return `${SESSION_COOKIE_NAME}=; Path=${cookiePath(dbName)}; Expires=${new Date(0).toUTCString()}; Max-Age=0; HttpOnly`;
}
