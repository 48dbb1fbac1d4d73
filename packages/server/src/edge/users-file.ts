import { readFile, rename, writeFile } from 'node:fs/promises';
import { isSynclineError } from '../base/errors.ts';
import { keyed, ud, type Logger } from '../base/logger.ts';
import { ConfigError } from '../config/load.ts';
import { hashPassword, isPasswordHash, DEFAULT_SCRYPT_PARAMS, type ScryptParams } from '../auth/password.ts';
import type { Database } from '../db/database.ts';

/**
 * Edge mode's users file (top-level `users` in the config): the users of every database, with hashed
 * passwords, as `syncline user add NAME` writes it:
 *
 *   { "alice": { "password_hash": "scrypt$32768$8$1$...", "admin_channels": ["a"], "admin_roles": ["r"] } }
 *
 * Couchbase Edge Server's shape, `{"alice": {"password": "<hash>"}}`, is read too when the hash is one of
 * ours (`scrypt$...`). A plain-text password is refused: the file must never hold one.
 */
export interface UsersFileEntry {
  password_hash: string;
  admin_channels: string[];
  admin_roles: string[];
  email?: string;
  disabled?: boolean;
}

export type UsersFile = Record<string, UsersFileEntry>;

const KNOWN_KEYS = new Set(['password_hash', 'password', 'admin_channels', 'admin_roles', 'email', 'disabled', 'roles']);
const BCRYPT = /^\$2[abxy]?\$\d\d\$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new ConfigError(where, 'must be an array of strings');
  return value as string[];
}

/** Validates the parsed contents of a users file; `source` names the file in errors. */
export function parseUsersFile(json: unknown, source: string): UsersFile {
  if (!isObject(json)) throw new ConfigError('users', `users file ${source} must hold a JSON object of users by name`);
  const users: UsersFile = {};
  for (const [name, raw] of Object.entries(json)) {
    const where = `users file ${source}: user "${name}"`;
    if (!isObject(raw)) throw new ConfigError('users', `${where} must be an object`);
    for (const key of Object.keys(raw)) if (!KNOWN_KEYS.has(key)) throw new ConfigError('users', `${where}: unknown key "${key}"`);
    let hash = raw['password_hash'];
    const password = raw['password'];
    if (password !== undefined) {
      if (typeof password === 'string' && isPasswordHash(password) && hash === undefined) {
        hash = password;
      } else if (typeof password === 'string' && BCRYPT.test(password)) {
        throw new ConfigError('users', `${where} has a bcrypt hash, which Syncline does not read; set it again with "syncline user add ${name}"`);
      } else {
        throw new ConfigError('users', `${where} has a plain-text "password"; store only hashes: run "syncline user add ${name}" to set it`);
      }
    }
    if (typeof hash !== 'string' || !isPasswordHash(hash)) {
      throw new ConfigError('users', `${where} needs "password_hash", a scrypt hash as "syncline user add" writes it`);
    }
    const entry: UsersFileEntry = {
      password_hash: hash,
      admin_channels: stringList(raw['admin_channels'], `users: ${where}: admin_channels`),
      admin_roles: stringList(raw['admin_roles'], `users: ${where}: admin_roles`),
    };
    if (raw['email'] !== undefined) {
      if (typeof raw['email'] !== 'string') throw new ConfigError('users', `${where}: email must be a string`);
      entry.email = raw['email'];
    }
    if (raw['disabled'] !== undefined) {
      if (typeof raw['disabled'] !== 'boolean') throw new ConfigError('users', `${where}: disabled must be a boolean`);
      entry.disabled = raw['disabled'];
    }
    users[name] = entry;
  }
  return users;
}

/** Reads and validates a users file; a missing or malformed file is a ConfigError. */
export async function readUsersFile(file: string): Promise<UsersFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('users', `cannot read users file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('users', `users file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseUsersFile(json, file);
}

/**
 * Creates or updates the users of the file in one database. The file is authoritative for what it sets:
 * the password hash, admin_channels and admin_roles (users added through the admin API are left alone).
 */
export async function applyUsers(db: Database, users: UsersFile, logger: Logger): Promise<number> {
  const log = keyed(logger, 'Auth');
  let changed = 0;
  for (const [name, entry] of Object.entries(users)) {
    const body: Record<string, unknown> = { admin_channels: entry.admin_channels, admin_roles: entry.admin_roles };
    if (entry.email !== undefined) body['email'] = entry.email;
    if (entry.disabled !== undefined) body['disabled'] = entry.disabled;
    try {
      const result = await db.auth.putUser(name, body, { passwordHash: entry.password_hash });
      if (result.changed) changed++;
    } catch (err) {
      if (isSynclineError(err) && err.status === 400) throw new ConfigError('users', `users file: user "${name}": ${err.reason}`);
      throw err;
    }
  }
  if (changed > 0) log.info({ db: db.name, changed }, 'applied the users file');
  else log.debug({ db: db.name, users: Object.keys(users).map((n) => ud(n)) }, 'users file already applied');
  return changed;
}

export interface AddUserOptions {
  password: string;
  channels?: string[] | undefined;
  roles?: string[] | undefined;
  scrypt?: ScryptParams | undefined;
}

/**
 * `syncline user add`: creates or updates one user of a users file (creating the file), with a fresh hash.
 * Channels and roles left unset keep their current value. The file is replaced atomically.
 */
export async function addUserToFile(file: string, name: string, opts: AddUserOptions): Promise<{ created: boolean }> {
  let json: unknown = {};
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read users file ${file}: ${(err as Error).message}`);
  }
  if (!isObject(json)) throw new Error(`users file ${file} must hold a JSON object of users by name`);
  const current = isObject(json[name]) ? (json[name] as Record<string, unknown>) : undefined;
  const entry: Record<string, unknown> = { ...current };
  delete entry['password'];
  entry['password_hash'] = await hashPassword(opts.password, opts.scrypt ?? DEFAULT_SCRYPT_PARAMS);
  if (opts.channels !== undefined) entry['admin_channels'] = opts.channels;
  else entry['admin_channels'] ??= [];
  if (opts.roles !== undefined) entry['admin_roles'] = opts.roles;
  else entry['admin_roles'] ??= [];
  const next = { ...json, [name]: entry };
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
  return { created: current === undefined };
}
