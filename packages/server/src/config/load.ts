import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import JSON5 from 'json5';
import type { TSchema, Static } from '@sinclair/typebox';
import { readUsersFile } from '../edge/users-file.ts';
import { DatabaseConfigSchema, ServerConfigSchema, type DatabaseConfig, type ServerConfig } from './schema.ts';

/** A configuration problem, naming the offending field by its JSON path. */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function jsonPointerToPath(pointer: string, prefix: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [prefix, ...parts].filter(Boolean).join('.');
}

/** Validates input against a schema, applying defaults; throws ConfigError naming the first bad field. */
export function validate<S extends TSchema>(schema: S, input: unknown, prefix = ''): Static<S> {
  const withDefaults = Value.Default(schema, structuredClone(input ?? {}));
  const first = Value.Errors(schema, withDefaults).First();
  if (first) {
    const path = jsonPointerToPath(first.path, prefix);
    const extra = /additional|unexpected property/i.test(first.message);
    const message = extra ? 'unknown configuration key' : first.message;
    throw new ConfigError(path, message);
  }
  return withDefaults as Static<S>;
}

export interface ParseOptions {
  /**
   * Directory that edge-mode file paths (a database's `path`, `users`, `https.*`) are relative to: the config
   * file's directory. Unset: they stay as written (relative to the working directory).
   */
  baseDir?: string | undefined;
}

export function parseServerConfig(input: unknown, opts: ParseOptions = {}): ServerConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError('', 'configuration must be a JSON object');
  }
  const raw = input as { databases?: unknown };
  const databases: Record<string, DatabaseConfig> = {};
  if (raw.databases !== null && typeof raw.databases === 'object' && !Array.isArray(raw.databases)) {
    for (const [name, db] of Object.entries(raw.databases as Record<string, unknown>)) {
      checkDatabaseName(name, `databases.${name}`);
      databases[name] = parseDatabaseConfig(name, db, `databases.${name}`, opts);
    }
  }
  const config = validate(ServerConfigSchema, { ...raw, databases: {} });
  const at = (file: string): string => (opts.baseDir === undefined ? file : resolve(opts.baseDir, file));
  if (config.users !== undefined) config.users = at(config.users);
  if (config.https) config.https = { tls_cert_path: at(config.https.tls_cert_path), tls_key_path: at(config.https.tls_key_path) };
  return deepFreeze({ ...config, databases });
}

const DB_NAME = /^[a-z][a-z0-9_$()+-]*$/;

/** Database names follow CouchDB's rule: lower-case letter first, then lower-case letters, digits and _$()+- . */
export function checkDatabaseName(name: string, path = name): void {
  if (!DB_NAME.test(name) || name.length > 238) {
    throw new ConfigError(path, `invalid database name "${name}": use lower-case letters, digits and _$()+- , starting with a letter`);
  }
}

export function parseDatabaseConfig(name: string, input: unknown, path = name, opts: ParseOptions = {}): DatabaseConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(path, 'database configuration must be a JSON object');
  }
  const config = validate(DatabaseConfigSchema, input, path);
  if (config.path !== undefined) edgePath(config, path, opts);
  config.server ??= `sqlite:./data/${name}.sqlite`;
  return deepFreeze(config);
}

/**
 * Edge mode's `path`: the SQLite file of the database, relative to the config file. It becomes
 * `server: "sqlite:<path>"` (and `path` is dropped, so that the stored and shown configuration names the
 * storage one way). As in Couchbase Edge Server, a missing file is an error unless `create` is true.
 */
function edgePath(config: DatabaseConfig, at: string, opts: ParseOptions): void {
  const file = config.path!;
  if (config.server !== undefined) throw new ConfigError(`${at}.path`, 'cannot be set together with "server" (both name the storage)');
  const absolute = resolve(opts.baseDir ?? process.cwd(), file);
  if (config.create !== true && !existsSync(absolute)) {
    throw new ConfigError(`${at}.path`, `database file ${absolute} does not exist (set "create": true to create it)`);
  }
  config.server = `sqlite:${opts.baseDir === undefined ? file : absolute}`;
  delete config.path;
}

/**
 * The text of a config file as JSON, or else as JSON5 (comments, unquoted keys, trailing commas), which
 * Couchbase Edge Server's config files use. A `.json5` file is read as JSON5 directly.
 */
export function parseConfigText(text: string, file: string): unknown {
  if (extname(file).toLowerCase() !== '.json5') {
    try {
      return JSON.parse(text);
    } catch {
      // not plain JSON: try JSON5 below, whose error message is reported
    }
  }
  try {
    return JSON5.parse(text);
  } catch (err) {
    throw new ConfigError('', `config file ${file} is not valid JSON or JSON5: ${(err as Error).message}`);
  }
}

export async function loadConfigFile(file: string): Promise<ServerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  const config = parseServerConfig(parseConfigText(text, file), { baseDir: dirname(resolve(file)) });
  // A users file that cannot be read, or that holds a plain-text password, stops the start here.
  if (config.users !== undefined) await readUsersFile(config.users);
  return config;
}
