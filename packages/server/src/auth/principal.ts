import { badRequest } from '../base/errors.ts';
import { isValidChannelName } from '../channels/channel-names.ts';

/**
 * Validation of user and role names, channel names and the REST bodies of
 * `PUT /{db}/_user/{name}` and `PUT /{db}/_role/{name}` (also used for users/roles declared in the config).
 */

/** The special user standing for unauthenticated requests. Exists implicitly, disabled until configured. */
export const GUEST_USERNAME = 'GUEST';

export { isValidChannelName, PUBLIC_CHANNEL, STAR_CHANNEL } from '../channels/channel-names.ts';

export const MIN_PASSWORD_LENGTH = 3;

/**
 * Sync Gateway 3.x rule: well-formed Unicode, at least one letter or digit, and none of `/` (routing),
 * `:` (Basic auth separator), `,` (breaks channel/role lists) or backtick. We also refuse control characters,
 * which SG lets through but which only cause trouble in logs and headers.
 */
export function isValidPrincipalName(name: string): boolean {
  if (name.length === 0 || !name.isWellFormed()) return false;
  if (/[/:,`\p{Cc}]/u.test(name)) return false;
  return /[\p{L}\p{N}]/u.test(name);
}


// Sync Gateway's email rule (ASCII word characters).
const EMAIL_RE = /^[-+.\w]+@\w[-.\w]+$/;

export function isValidEmail(email: string): boolean {
  return EMAIL_RE.test(email);
}

export function validateUserName(name: string): void {
  if (!isValidPrincipalName(name)) throw badRequest(`Invalid user name "${name}"`);
}

export function validateRoleName(name: string): void {
  if (!isValidPrincipalName(name)) throw badRequest(`Invalid role name "${name}"`);
}

/** Fields of a user update; absent fields leave the stored value unchanged. */
export interface UserUpdate {
  /** "" clears the password (only allowed with allowEmptyPassword). */
  password?: string;
  admin_channels?: string[];
  admin_roles?: string[];
  /** "" clears the email address. */
  email?: string;
  disabled?: boolean;
}

export interface RoleUpdate {
  admin_channels?: string[];
}

/** Read-only properties that GET returns; SG ignores them on input so that a GET body can be PUT back. */
const IGNORED_KEYS = new Set(['all_channels', 'roles', 'jwt_last_updated']);
/** Read-only properties SG refuses on input. */
const REFUSED_READ_ONLY = new Set(['jwt_issuer', 'jwt_roles', 'jwt_channels']);

const USER_KEYS = new Set(['name', 'password', 'admin_channels', 'admin_roles', 'email', 'disabled']);
const ROLE_KEYS = new Set(['name', 'admin_channels']);

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function checkKeys(obj: Record<string, unknown>, allowed: Set<string>, kind: string): void {
  for (const key of Object.keys(obj)) {
    if (allowed.has(key) || IGNORED_KEYS.has(key)) continue;
    if (REFUSED_READ_ONLY.has(key)) throw badRequest("Can't change read-only properties");
    if (key === 'collection_access') throw badRequest('collection_access is not supported: use admin_channels');
    throw badRequest(`Unknown property "${key}" in ${kind}`);
  }
}

function checkName(obj: Record<string, unknown>, urlName: string): void {
  const name = obj['name'];
  if (name === undefined || name === null) return;
  if (typeof name !== 'string') throw badRequest('"name" must be a string');
  if (name !== urlName) throw badRequest("Name mismatch (can't change name)");
}

function stringList(
  obj: Record<string, unknown>,
  key: string,
  valid: (s: string) => boolean,
  what: string,
): string[] | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw badRequest(`"${key}" must be an array of ${what}s`);
  const out = new Set<string>();
  for (const item of value) {
    if (typeof item !== 'string') throw badRequest(`"${key}" must be an array of ${what}s`);
    if (!valid(item)) throw badRequest(`Invalid ${what} "${item}" in "${key}"`);
    out.add(item);
  }
  return [...out];
}

function optional<T>(obj: Record<string, unknown>, key: string, type: 'string' | 'boolean'): T | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== type) throw badRequest(`"${key}" must be a ${type}`);
  return value as T;
}

/**
 * Validates a user body. As in SG, `null` means "not given" for every field (so `password: null` keeps the
 * current password), and the read-only `all_channels` / `roles` are ignored. Unlike SG, other unknown
 * properties are rejected instead of silently dropped, so that typos such as `admin_channel` are noticed.
 */
export function parseUserBody(urlName: string, body: unknown): UserUpdate {
  const obj = asObject(body);
  checkKeys(obj, USER_KEYS, 'user');
  checkName(obj, urlName);
  const update: UserUpdate = {};
  const password = optional<string>(obj, 'password', 'string');
  if (password !== undefined) {
    if (urlName === GUEST_USERNAME) throw badRequest('The GUEST user cannot have a password');
    if (password !== '' && [...password].length < MIN_PASSWORD_LENGTH) {
      throw badRequest(`Passwords must be at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    update.password = password;
  }
  const channels = stringList(obj, 'admin_channels', isValidChannelName, 'channel name');
  if (channels) update.admin_channels = channels;
  const roles = stringList(obj, 'admin_roles', isValidPrincipalName, 'role name');
  if (roles) update.admin_roles = roles;
  const email = optional<string>(obj, 'email', 'string');
  if (email !== undefined) {
    if (email !== '' && !isValidEmail(email)) throw badRequest('Invalid email address');
    update.email = email;
  }
  const disabled = optional<boolean>(obj, 'disabled', 'boolean');
  if (disabled !== undefined) update.disabled = disabled;
  return update;
}

export function parseRoleBody(urlName: string, body: unknown): RoleUpdate {
  const obj = asObject(body);
  checkKeys(obj, ROLE_KEYS, 'role');
  checkName(obj, urlName);
  const channels = stringList(obj, 'admin_channels', isValidChannelName, 'channel name');
  return channels ? { admin_channels: channels } : {};
}
