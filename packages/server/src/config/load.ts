import { readFile } from 'node:fs/promises';
import { Value } from '@sinclair/typebox/value';
import type { TSchema, Static } from '@sinclair/typebox';
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

export function parseServerConfig(input: unknown): ServerConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError('', 'configuration must be a JSON object');
  }
  const raw = input as { databases?: unknown };
  const databases: Record<string, DatabaseConfig> = {};
  if (raw.databases !== null && typeof raw.databases === 'object' && !Array.isArray(raw.databases)) {
    for (const [name, db] of Object.entries(raw.databases as Record<string, unknown>)) {
      checkDatabaseName(name, `databases.${name}`);
      databases[name] = parseDatabaseConfig(name, db, `databases.${name}`);
    }
  }
  const config = validate(ServerConfigSchema, { ...raw, databases: {} });
  return deepFreeze({ ...config, databases });
}

const DB_NAME = /^[a-z][a-z0-9_$()+-]*$/;

/** Database names follow CouchDB's rule: lower-case letter first, then lower-case letters, digits and _$()+- . */
export function checkDatabaseName(name: string, path = name): void {
  if (!DB_NAME.test(name) || name.length > 238) {
    throw new ConfigError(path, `invalid database name "${name}": use lower-case letters, digits and _$()+- , starting with a letter`);
  }
}

export function parseDatabaseConfig(name: string, input: unknown, path = name): DatabaseConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(path, 'database configuration must be a JSON object');
  }
  const config = validate(DatabaseConfigSchema, input, path);
  config.server ??= `sqlite:./data/${name}.sqlite`;
  return deepFreeze(config);
}

export async function loadConfigFile(file: string): Promise<ServerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('', `config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseServerConfig(json);
}
