import { forbidden } from '../base/errors.ts';
import type { DatabaseConfig } from '../config/schema.ts';

/**
 * Edge mode's `enable_client_sync`: which way clients of the public API may sync a database, on both
 * protocols (the REST API and Couchbase Lite's `_blipsync`). The admin API is never restricted.
 *
 *   "pull"                       clients read only: document writes are refused
 *   "push"                       clients write only: document reads and change feeds are refused
 *   false                        neither (and the `_blipsync` upgrade itself is refused)
 *   true, "bidirectional", unset both
 *
 * Refusals are 403 `{"error":"forbidden"}` on REST and a BLIP `HTTP 403` error reply.
 */
export type ClientSyncSetting = DatabaseConfig['enable_client_sync'];

export interface ClientSyncPolicy {
  /** Clients may read documents, attachments and change feeds (pull). */
  read: boolean;
  /** Clients may create, update and delete documents and attachments (push). */
  write: boolean;
}

export function clientSyncPolicy(setting: ClientSyncSetting): ClientSyncPolicy {
  switch (setting) {
    case 'pull':
      return { read: true, write: false };
    case 'push':
      return { read: false, write: true };
    case false:
      return { read: false, write: false };
    case true:
    case 'bidirectional':
    case undefined:
      return { read: true, write: true };
  }
}

export type ClientAccess = 'read' | 'write';

/**
 * What a public-API database route does to documents, by method and route path (routes.ts): reads of
 * documents, attachments and feeds, writes of documents and attachments, or neither (undefined: database
 * info, sessions, `_local` checkpoints, `_revs_diff`, which every mode needs).
 */
export function restRouteAccess(method: string, routePath: string): ClientAccess | undefined {
  const reading = method === 'GET' || method === 'HEAD';
  switch (routePath) {
    case '':
      return method === 'POST' ? 'write' : undefined;
    case '_bulk_docs':
      return 'write';
    case '_all_docs':
    case '_bulk_get':
    case '_changes':
      return 'read';
    case '{doc}':
    case '{doc}/{attachment*}':
      return reading ? 'read' : 'write';
    case '{doc}/_all_channels':
      return 'read';
    default:
      return undefined;
  }
}

/** What a BLIP request from the client does: `subChanges` starts a pull, the push profiles write. */
export function blipProfileAccess(profile: string | undefined): ClientAccess | undefined {
  switch (profile) {
    case 'subChanges':
      return 'read';
    case 'proposeChanges':
    case 'changes':
    case 'rev':
      return 'write';
    case undefined:
    default:
      return undefined;
  }
}

function refusal(access: ClientAccess, setting: ClientSyncSetting): string {
  if (setting === false) return 'Client sync is disabled on this database (enable_client_sync: false)';
  return access === 'write'
    ? `Clients may not write to this database (enable_client_sync: "${String(setting)}")`
    : `Clients may not read from this database (enable_client_sync: "${String(setting)}")`;
}

/** The reason a client request doing `access` is refused, or undefined when it is allowed. */
export function clientSyncRefusal(setting: ClientSyncSetting, access: ClientAccess | undefined): string | undefined {
  if (access === undefined) return undefined;
  const policy = clientSyncPolicy(setting);
  return policy[access] ? undefined : refusal(access, setting);
}

/** Throws 403 when the public-API route is not allowed by the database's `enable_client_sync`. */
export function checkRestClientSync(setting: ClientSyncSetting, method: string, routePath: string): void {
  const reason = clientSyncRefusal(setting, restRouteAccess(method, routePath));
  if (reason !== undefined) throw forbidden(reason);
}

/** Throws 403 when client sync is off altogether (the `_blipsync` upgrade). */
export function checkBlipClientSync(setting: ClientSyncSetting): void {
  if (setting === false) throw forbidden(refusal('read', false));
}

/** Throws 403 when the BLIP request profile is not allowed by the database's `enable_client_sync`. */
export function checkBlipRequestClientSync(setting: ClientSyncSetting, profile: string | undefined): void {
  const reason = clientSyncRefusal(setting, blipProfileAccess(profile));
  if (reason !== undefined) throw forbidden(reason);
}
