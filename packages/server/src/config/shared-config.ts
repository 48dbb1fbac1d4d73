import type { Bucket, StoredRecord } from '../storage/bucket.ts';
import type { DatabaseConfig } from './schema.ts';

/**
 * A database configuration changed through the admin API (`PUT /{db}/_config`) is stored in the database
 * itself, so that every node of a cluster applies it, and a restarted node starts from it. Settings that
 * belong to one node (where its storage is, its pool, whether it imports) stay as each node's file says.
 */
export const SHARED_CONFIG_KEY = '_sync:config';

const NODE_LOCAL_KEYS = ['server', 'schema', 'pool_size', 'import_docs'] as const;

export interface SharedConfig {
  config: Record<string, unknown>;
  version: number;
}

/** The stored configuration, or null when none was ever stored (or it is unreadable). */
export async function readSharedConfig(bucket: Bucket): Promise<SharedConfig | null> {
  return parse(await bucket.getRecord(SHARED_CONFIG_KEY));
}

export async function storeSharedConfig(bucket: Bucket, config: DatabaseConfig): Promise<number> {
  const shared: Record<string, unknown> = { ...config };
  for (const key of NODE_LOCAL_KEYS) delete shared[key];
  const record = await bucket.setRecord(SHARED_CONFIG_KEY, JSON.stringify(shared));
  return record?.version ?? 0;
}

/** The stored shared settings over this node's own (node-local keys always come from `local`). */
export function withLocalSettings(shared: Record<string, unknown>, local: DatabaseConfig): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...shared };
  for (const key of NODE_LOCAL_KEYS) {
    if (local[key] === undefined) delete merged[key];
    else merged[key] = local[key];
  }
  return merged;
}

function parse(record: StoredRecord | null): SharedConfig | null {
  if (!record) return null;
  try {
    const config = JSON.parse(record.value) as unknown;
    if (typeof config !== 'object' || config === null || Array.isArray(config)) return null;
    return { config: config as Record<string, unknown>, version: record.version };
  } catch {
    return null;
  }
}
