import { createHash, randomBytes } from 'node:crypto';
import { badRequest } from '../base/errors.ts';
import type { Bucket } from '../storage/bucket.ts';
import { decodeSession, SESSION_PREFIX, type SessionRecord, type UserRecord } from './records.ts';

export const SESSION_COOKIE_NAME = 'SyncGatewaySession';
export const DEFAULT_SESSION_TTL_SECONDS = 24 * 60 * 60;
const MAX_SESSION_TTL_SECONDS = 10 * 365 * 24 * 60 * 60;

/** 160 random bits, hex: the same shape as Sync Gateway session ids. */
const SESSION_ID_RE = /^[0-9a-f]{40}$/;

/** Like SG: a session used after 10% of its lifetime has passed is extended to a full TTL again. */
const SLIDE_FRACTION = 0.1;

export interface SessionInfo {
  session_id: string;
  /** ISO date. */
  expires: string;
  cookie_name: typeof SESSION_COOKIE_NAME;
}

export interface ActiveSession {
  name: string;
  /** The session's user as read while validating the session. */
  user: UserRecord;
  expires: Date;
  /** True when this lookup extended the session (sliding expiry): the client's cookie should be re-sent. */
  renewed: boolean;
}

// Only a digest of the id is stored, so that reading the database does not hand out live session tokens.
const sessionKey = (id: string): string => SESSION_PREFIX + createHash('sha256').update(id).digest('hex');

/** Login sessions (cookie auth). Validity is checked against the user record on every lookup. */
export class SessionStore {
  readonly #bucket: Bucket;

  constructor(bucket: Bucket) {
    this.#bucket = bucket;
  }

  async create(user: UserRecord, ttlSeconds: number): Promise<SessionInfo> {
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_SESSION_TTL_SECONDS) {
      throw badRequest('Invalid session time-to-live');
    }
    if (user.disabled) throw badRequest('User is disabled');
    const id = randomBytes(20).toString('hex');
    const ttlMs = Math.ceil(ttlSeconds * 1000);
    const expires = new Date(Date.now() + ttlMs).toISOString();
    const record: SessionRecord = { name: user.name, session_uuid: user.session_uuid, expires, ttl_ms: ttlMs };
    await this.#bucket.setRecord(sessionKey(id), JSON.stringify(record), { ttlMs });
    return { session_id: id, expires, cookie_name: SESSION_COOKIE_NAME };
  }

  /**
   * The session's user name and (possibly extended) expiry, or null when the id is malformed or unknown, the
   * session expired, or the user was deleted, disabled or changed password since the session was created.
   */
  async get(id: unknown, loadUser: (name: string) => Promise<UserRecord | null>): Promise<ActiveSession | null> {
    if (typeof id !== 'string' || !SESSION_ID_RE.test(id)) return null;
    const key = sessionKey(id);
    const stored = await this.#bucket.getRecord(key);
    const session = stored ? decodeSession(stored.value) : null;
    if (!stored || !session) return null;
    const now = Date.now();
    const expiresAt = Date.parse(session.expires);
    if (!(expiresAt > now)) return null;
    const user = await loadUser(session.name);
    if (!user || user.disabled || user.session_uuid !== session.session_uuid) {
      await this.#bucket.deleteRecord(key, { expectedVersion: stored.version });
      return null;
    }
    if (session.ttl_ms - (expiresAt - now) <= session.ttl_ms * SLIDE_FRACTION) {
      return { name: session.name, user, expires: new Date(expiresAt), renewed: false };
    }
    const extended = new Date(now + session.ttl_ms);
    const record: SessionRecord = { ...session, expires: extended.toISOString() };
    // The version check keeps a concurrent logout from being undone; losing the extension race is harmless.
    const written = await this.#bucket.setRecord(key, JSON.stringify(record), {
      ttlMs: session.ttl_ms,
      expectedVersion: stored.version,
      durable: false,
    });
    if (written) return { name: session.name, user, expires: extended, renewed: true };
    // Someone else wrote or deleted the session meanwhile (another extension, or a logout).
    return (await this.#bucket.getRecord(key)) ? { name: session.name, user, expires: new Date(expiresAt), renewed: false } : null;
  }

  async delete(id: unknown): Promise<boolean> {
    if (typeof id !== 'string' || !SESSION_ID_RE.test(id)) return false;
    return this.#bucket.deleteRecord(sessionKey(id));
  }
}
