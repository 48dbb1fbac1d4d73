import { ConfigError, validate } from '../../config/load.ts';
import { redactUrl } from '../../config/redact.ts';
import { ReplicationConfigSchema, type ReplicationConfig } from '../../config/replication-schema.ts';
import { CustomResolver } from './resolver.ts';
import { pinnedFingerprint } from '@syncline/client';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.@()+-]{0,159}$/;

/** Replication ids: letters, digits and `_.@()+-`, at most 160 characters (they are part of record keys and URLs). */
export function checkReplicationId(id: string, path = 'replication_id'): void {
  if (!ID.test(id)) throw new ConfigError(path, 'must be 1-160 letters, digits or _.@()+- starting with a letter or digit');
}

/** The remote database URL, checked: ws(s) or http(s), with a database in the path. */
export function parseRemoteUrl(remote: string, path = 'remote'): URL {
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    throw new ConfigError(path, `not a valid URL: "${remote}"`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) throw new ConfigError(path, 'must be a ws://, wss://, http:// or https:// URL');
  if (url.pathname.replace(/\/+$/, '').replace(/\/_blipsync$/, '').replace(/^\/+/, '') === '') throw new ConfigError(path, 'must name the remote database (e.g. ws://host:4984/db)');
  return url;
}

/**
 * Validates one replication definition (TypeBox schema, then the rules it cannot express) and applies the
 * defaults; throws ConfigError naming the field. `prefix` is prepended to field paths (config file errors).
 */
export function parseReplicationConfig(id: string, input: unknown, prefix = ''): ReplicationConfig {
  const at = (field: string): string => (prefix ? `${prefix}.${field}` : field);
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError(prefix, 'replication must be a JSON object');
  const config = validate(ReplicationConfigSchema, input, prefix) as ReplicationConfig;
  checkReplicationId(id, at('replication_id'));
  if (config.replication_id !== undefined && config.replication_id !== id) throw new ConfigError(at('replication_id'), `does not match the id "${id}"`);
  config.replication_id = id;
  parseRemoteUrl(config.remote, at('remote'));
  if (config.filter !== undefined && !config.query_params?.channels) throw new ConfigError(at('query_params.channels'), 'required with filter sync_gateway/bychannel');
  if (config.query_params !== undefined && config.filter === undefined) throw new ConfigError(at('filter'), 'query_params needs filter "sync_gateway/bychannel"');
  if (config.conflict_resolution_type === 'custom') {
    if (config.custom_conflict_resolver === undefined || config.custom_conflict_resolver.trim() === '') {
      throw new ConfigError(at('custom_conflict_resolver'), 'required with conflict_resolution_type "custom"');
    }
    try {
      CustomResolver.compile(config.custom_conflict_resolver, { name: id }).dispose();
    } catch (err) {
      throw new ConfigError(at('custom_conflict_resolver'), (err as Error).message);
    }
  } else if (config.custom_conflict_resolver !== undefined) {
    throw new ConfigError(at('custom_conflict_resolver'), 'only used with conflict_resolution_type "custom"');
  }
  if (config.pinned_cert !== undefined) {
    try {
      pinnedFingerprint(config.pinned_cert);
    } catch (err) {
      throw new ConfigError(at('pinned_cert'), (err as Error).message);
    }
    if (!/^(wss|https):/i.test(config.remote)) throw new ConfigError(at('pinned_cert'), 'only for wss:// or https:// remotes');
  }
  if (config.password !== undefined && config.username === undefined) throw new ConfigError(at('username'), 'required with password');
  return config;
}

/** The definition as shown over REST: the password hidden, as Sync Gateway does. */
export function redactedConfig(config: ReplicationConfig): ReplicationConfig {
  const out = { ...config };
  if (out.password !== undefined) out.password = '****';
  out.remote = redactUrl(out.remote, '****');
  return out;
}
