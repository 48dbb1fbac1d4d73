import { randomBytes, randomUUID } from 'node:crypto';
import { badRequest, conflict, notFound } from '../base/errors.ts';
import { keyed, ud, type Logger } from '../base/logger.ts';
import type { Bucket, StoredRecord } from '../storage/bucket.ts';
import { computeAccess, NO_GRANTS, type Access, type AccessGrants } from './access.ts';
import { applyConfigPrincipals, type ConfigPrincipals } from './config-principals.ts';
import { FailureTracker, type FailureTrackerOptions } from './failures.ts';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, hashUsesParams, verifyPassword, type ScryptParams } from './password.ts';
import { GUEST_USERNAME, isValidPrincipalName, parseRoleBody, parseUserBody } from './principal.ts';
import { validateRoleName, validateUserName } from './principal.ts';
import { nextRole, nextUser, roleTombstone } from './principal-writes.ts';
import { decodeRole, decodeUser, encodeRole, encodeUser, roleKey, userKey } from './records.ts';
import { ROLE_PREFIX, USER_PREFIX, type RoleRecord, type UserRecord } from './records.ts';
import { DEFAULT_SESSION_TTL_SECONDS, SessionStore, type ActiveSession, type SessionInfo } from './sessions.ts';
import { VerificationCache, type VerificationCacheOptions } from './verify-cache.ts';

export interface AuthStoreOptions {
  /** KDF cost for new hashes (tests lower it). */
  scrypt?: ScryptParams;
  /** SG's `allow_empty_password`: users may be created without a password and log in with an empty one. */
  allowEmptyPassword?: boolean;
  failures?: FailureTrackerOptions;
  /** Cache of successful password checks (see verify-cache.ts). */
  verifyCache?: VerificationCacheOptions;
  /**
   * Called with the sequence allocated by each user or role write (after it is committed), so that change
   * feeds can wake up when access changes.
   */
  onSequence?: (seq: number) => void;
}

export interface PutOptions {
  /** POST semantics: refuse (409) when the user or role already exists. */
  createOnly?: boolean;
  /**
   * Sets this already-made `scrypt$...` hash as the password (edge mode's users file); the body's `password`
   * is then ignored. A different hash than the stored one counts as a password change (ends sessions).
   */
  passwordHash?: string;
}

export interface PutResult {
  created: boolean;
  /** False when the update left the stored record exactly as it was (nothing written). */
  changed: boolean;
}

const MAX_CAS_ATTEMPTS = 64;

const defaultGuest = (): UserRecord => ({
  name: GUEST_USERNAME,
  disabled: true,
  admin_channels: {},
  admin_roles: {},
  session_uuid: '',
});

type CasStep<T> = (stored: StoredRecord | null) => Promise<{ write: string | null; result: T }>;
/** Like CasStep, but the value depends on the sequence allocated for the write; null build = nothing to write. */
type SequencedStep<T> = (stored: StoredRecord | null) => Promise<{ build: ((seq: number) => string) | null; result: T }>;

/** Users, roles, password login and sessions of one database, stored in the bucket's metadata records. */
export class AuthStore {
  readonly #bucket: Bucket;
  readonly #log: Logger;
  readonly #scrypt: ScryptParams;
  readonly #allowEmptyPassword: boolean;
  readonly #failures: FailureTracker;
  readonly #sessions: SessionStore;
  readonly #verified: VerificationCache;
  readonly #onSequence: ((seq: number) => void) | undefined;
  #dummyHash: Promise<string> | undefined;

  constructor(bucket: Bucket, logger: Logger, opts: AuthStoreOptions = {}) {
    this.#bucket = bucket;
    this.#log = keyed(logger, 'Auth');
    this.#scrypt = opts.scrypt ?? DEFAULT_SCRYPT_PARAMS;
    this.#allowEmptyPassword = opts.allowEmptyPassword ?? false;
    this.#failures = new FailureTracker(opts.failures);
    this.#sessions = new SessionStore(bucket);
    this.#verified = new VerificationCache(opts.verifyCache);
    this.#onSequence = opts.onSequence;
  }

  // ---- users ----

  /** The stored user; GUEST always exists (disabled, no channels, until configured). Null for invalid names. */
  async getUser(name: string): Promise<UserRecord | null> {
    if (!isValidPrincipalName(name)) return null;
    const stored = await this.#bucket.getRecord(userKey(name));
    if (stored) return decodeUser(stored.key, stored.value);
    return name === GUEST_USERNAME ? defaultGuest() : null;
  }

  /**
   * Creates or updates a user from a REST body (see parseUserBody). Channels and roles newly added to
   * admin_channels/admin_roles are stamped with the sequence allocated for the write; those already present keep
   * their original sequence, and removed ones are kept as revocation history. An update that changes nothing
   * writes nothing (and allocates no sequence).
   */
  async putUser(name: string, body: unknown, opts: PutOptions = {}): Promise<PutResult> {
    validateUserName(name);
    const update = parseUserBody(name, body);
    let newHash: string | undefined;
    const matches = new Map<string, boolean>();
    const result = await this.#casAtSequence<PutResult>(userKey(name), async (stored) => {
      const current = stored ? decodeUser(stored.key, stored.value) : null;
      const existing = current ?? (name === GUEST_USERNAME ? defaultGuest() : null);
      if (existing && opts.createOnly) throw conflict('Already exists');
      const base = existing ?? { ...defaultGuest(), name, disabled: false, session_uuid: randomUUID() };

      let hash = base.password_hash;
      let passwordChanged = false;
      if (opts.passwordHash !== undefined) {
        passwordChanged = hash !== opts.passwordHash;
        hash = opts.passwordHash;
      } else if (update.password === undefined) {
        if (!existing && !this.#allowEmptyPassword) throw badRequest('Error creating user: Empty passwords are not allowed');
      } else if (update.password === '') {
        if (!this.#allowEmptyPassword) throw badRequest('Empty passwords are not allowed');
        passwordChanged = hash !== undefined;
        hash = undefined;
      } else if (!hash || !(await this.#verifyCached(update.password, hash, matches))) {
        newHash ??= await hashPassword(update.password, this.#scrypt);
        hash = newHash;
        passwordChanged = true;
      } else if (!hashUsesParams(hash, this.#scrypt)) {
        // Same password under an older KDF cost: adopt the current cost without ending sessions.
        newHash ??= await hashPassword(update.password, this.#scrypt);
        hash = newHash;
      }

      const disabled = update.disabled ?? base.disabled;
      const fields = {
        email: update.email ?? base.email,
        disabled,
        passwordHash: hash,
        // A new password or disabling the account ends every existing session.
        sessionUuid: passwordChanged || (disabled && !base.disabled) ? randomUUID() : base.session_uuid,
      };
      // Whether anything changes does not depend on the sequence: new grants add keys, withdrawn ones move keys.
      if (existing && encodeUser(nextUser(base, update, fields, 0)) === encodeUser(existing)) {
        return { build: null, result: { created: false, changed: false } };
      }
      return { build: (seq) => encodeUser(nextUser(base, update, fields, seq)), result: { created: existing === null, changed: true } };
    });
    if (result.changed) this.#log.info({ user: ud(name), created: result.created }, 'Saved user');
    return result;
  }

  /** Deletes a user (its sessions become invalid). Deleting GUEST resets it to the default. */
  async deleteUser(name: string): Promise<boolean> {
    if (!isValidPrincipalName(name)) return false;
    const deleted = await this.#bucket.deleteRecord(userKey(name));
    if (deleted) this.#log.info({ user: ud(name) }, 'Deleted user');
    return deleted || name === GUEST_USERNAME;
  }

  /** Names of the stored users, sorted; GUEST is not listed. */
  async listUsers(): Promise<string[]> {
    const records = await this.#bucket.listRecords(USER_PREFIX);
    return records.map((r) => r.key.slice(USER_PREFIX.length)).filter((n) => n !== GUEST_USERNAME);
  }

  // ---- roles ----

  /** The role, or null when it does not exist or was deleted. */
  async getRole(name: string): Promise<RoleRecord | null> {
    if (!isValidPrincipalName(name)) return null;
    const stored = await this.#bucket.getRecord(roleKey(name));
    const role = stored ? decodeRole(stored.key, stored.value) : null;
    return role && role.deleted_seq === undefined ? role : null;
  }

  /** The roles among `names` that exist (deleted ones left out). */
  async getRoles(names: Iterable<string>): Promise<Map<string, RoleRecord>> {
    const records = await this.getRoleRecords(names);
    return new Map([...records].filter(([, role]) => role.deleted_seq === undefined));
  }

  /** Role records among `names`, deleted ones (tombstones with deleted_seq) included: for access history. */
  async getRoleRecords(names: Iterable<string>): Promise<Map<string, RoleRecord>> {
    const unique = [...new Set(names)].filter(isValidPrincipalName);
    const stored = await Promise.all(unique.map((n) => this.#bucket.getRecord(roleKey(n))));
    const out = new Map<string, RoleRecord>();
    for (const record of stored) {
      if (!record) continue;
      const role = decodeRole(record.key, record.value);
      out.set(role.name, role);
    }
    return out;
  }

  /**
   * Creates or updates a role (see putUser for the sequence stamping). Re-creating a deleted role replaces its
   * tombstone: every channel is granted afresh.
   */
  async putRole(name: string, body: unknown, opts: PutOptions = {}): Promise<PutResult> {
    validateRoleName(name);
    const update = parseRoleBody(name, body);
    const result = await this.#casAtSequence<PutResult>(roleKey(name), async (stored) => {
      const current = stored ? decodeRole(stored.key, stored.value) : null;
      const live = current && current.deleted_seq === undefined ? current : null;
      if (live && opts.createOnly) throw conflict('Already exists');
      if (live && encodeRole(nextRole(name, live, update, 0)) === encodeRole(live)) {
        return { build: null, result: { created: false, changed: false } };
      }
      return { build: (seq) => encodeRole(nextRole(name, current, update, seq)), result: { created: live === null, changed: true } };
    });
    if (result.changed) this.#log.info({ role: ud(name), created: result.created }, 'Saved role');
    return result;
  }

  /**
   * Deletes a role: a tombstone keeps its grants (ending at the deletion's sequence) so that change feeds can
   * revoke what it gave; users that had it simply stop having it. `purge` then removes the record entirely.
   * False when there was no such role.
   */
  async deleteRole(name: string, opts: { purge?: boolean } = {}): Promise<boolean> {
    if (!isValidPrincipalName(name)) return false;
    const key = roleKey(name);
    const deleted = await this.#casAtSequence<boolean>(key, async (stored) => {
      const role = stored ? decodeRole(stored.key, stored.value) : null;
      if (!role || role.deleted_seq !== undefined) return { build: null, result: false };
      return { build: (seq) => encodeRole(roleTombstone(role, seq)), result: true };
    });
    const purged = opts.purge ? await this.#bucket.deleteRecord(key) : false;
    if (deleted) this.#log.info({ role: ud(name), purged: opts.purge === true }, 'Deleted role');
    return deleted || purged;
  }

  /** Names of the roles, sorted; deleted roles only with includeDeleted. */
  async listRoles(opts: { includeDeleted?: boolean } = {}): Promise<string[]> {
    const records = await this.#bucket.listRecords(ROLE_PREFIX);
    return records
      .filter((r) => opts.includeDeleted === true || decodeRole(r.key, r.value).deleted_seq === undefined)
      .map((r) => r.key.slice(ROLE_PREFIX.length));
  }

  /** A user with its computed access, loading the roles it refers to. Null for unknown users. */
  async getUserAccess(name: string, grants: AccessGrants = NO_GRANTS): Promise<{ user: UserRecord; access: Access } | null> {
    const user = await this.getUser(name);
    if (!user) return null;
    const roles = await this.getRoles([...Object.keys(user.admin_roles), ...Object.keys(grants.roles)]);
    return { user, access: computeAccess(user, roles, grants) };
  }

  // ---- config ----

  /** See applyConfigPrincipals in config-principals.ts. */
  applyConfigPrincipals(config: ConfigPrincipals): Promise<{ created: number; updated: number }> {
    return applyConfigPrincipals(this, config);
  }

  // ---- login ----

  /**
   * The user when the name and password are right and the account is enabled, else null. Unknown and disabled
   * users cost the same KDF time as real ones, so timing does not reveal which names exist.
   */
  async authenticate(name: string, password: string): Promise<UserRecord | null> {
    const user = name !== GUEST_USERNAME ? await this.getUser(name) : null;
    let ok: boolean;
    if (user?.password_hash) {
      const hash = user.password_hash;
      ok = this.#verified.has(name, password, hash);
      if (!ok && (await verifyPassword(password, hash))) {
        ok = true;
        this.#verified.add(name, password, hash);
      }
    } else {
      this.#dummyHash ??= hashPassword(randomBytes(16).toString('hex'), this.#scrypt);
      await verifyPassword(password, await this.#dummyHash);
      ok = user !== null && password === '' && this.#allowEmptyPassword;
    }
    if (ok && user && !user.disabled) {
      this.#failures.succeed(name);
      return user;
    }
    const count = this.#failures.fail(name);
    if (count !== null) this.#log.warn({ user: ud(name), failures: count }, 'Repeated failed logins');
    else this.#log.debug({ user: ud(name) }, 'Failed login');
    return null;
  }

  // ---- sessions ----

  async createSession(name: string, ttlSeconds = DEFAULT_SESSION_TTL_SECONDS): Promise<SessionInfo> {
    if (name === GUEST_USERNAME) throw badRequest('Cannot create a session for the GUEST user');
    const user = await this.getUser(name);
    if (!user) throw notFound(`No such user "${name}"`);
    const session = await this.#sessions.create(user, ttlSeconds);
    this.#log.debug({ user: ud(name) }, 'Created session');
    return session;
  }

  /** Null when the id is malformed, unknown or expired, or the user was deleted/disabled/changed password. */
  getSession(id: unknown): Promise<ActiveSession | null> {
    return this.#sessions.get(id, (name) => this.getUser(name));
  }

  deleteSession(id: unknown): Promise<boolean> {
    return this.#sessions.delete(id);
  }

  /** Ends every session of a user (SG's `DELETE /{db}/_user/{name}/_session`). False for unknown users. */
  async deleteUserSessions(name: string): Promise<boolean> {
    if (!isValidPrincipalName(name) || name === GUEST_USERNAME) return false;
    return this.#cas<boolean>(userKey(name), async (stored) => {
      if (!stored) return { write: null, result: false };
      const user = decodeUser(stored.key, stored.value);
      return { write: encodeUser({ ...user, session_uuid: randomUUID() }), result: true };
    });
  }

  // ---- internals ----

  async #verifyCached(password: string, hash: string, cache: Map<string, boolean>): Promise<boolean> {
    let match = cache.get(hash);
    if (match === undefined) {
      match = await verifyPassword(password, hash);
      cache.set(hash, match);
    }
    return match;
  }

  /**
   * Read-modify-write of one user or role record at a freshly allocated sequence, with compare-and-set, retried
   * on concurrent updates. The step does the async work (password hashing); its build callback is synchronous
   * and runs inside the write transaction.
   */
  async #casAtSequence<T>(key: string, step: SequencedStep<T>): Promise<T> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const stored = await this.#bucket.getRecord(key);
      const { build, result } = await step(stored);
      if (build === null) return result;
      const written = await this.#bucket.setRecordAtSequence(key, stored?.version ?? 0, build);
      if (written) {
        this.#onSequence?.(written.seq);
        return result;
      }
      this.#log.debug({ key: ud(key), attempt }, 'Concurrent update, retrying');
    }
    throw conflict('Too many concurrent updates, try again');
  }

  /** Read-modify-write of one record with compare-and-set, retried on concurrent updates. */
  async #cas<T>(key: string, step: CasStep<T>): Promise<T> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const stored = await this.#bucket.getRecord(key);
      const { write, result } = await step(stored);
      if (write === null) return result;
      if (await this.#bucket.setRecord(key, write, { expectedVersion: stored?.version ?? 0 })) return result;
      this.#log.debug({ key: ud(key), attempt }, 'Concurrent update, retrying');
    }
    throw conflict('Too many concurrent updates, try again');
  }
}
