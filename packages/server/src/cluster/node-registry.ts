import { hostname } from 'node:os';
import type { Logger } from '../base/logger.ts';
import type { Bucket, StoredRecord } from '../storage/bucket.ts';

/** Key prefix of the node records: `_sync:cluster:node:<nodeId>`. */
export const NODE_PREFIX = '_sync:cluster:node:';
export const nodeKey = (nodeId: string): string => `${NODE_PREFIX}${nodeId}`;

export const DEFAULT_NODE_TTL_MS = 8000;
export const DEFAULT_HEARTBEAT_MS = 2000;

/** What a node publishes about itself in its record. */
export interface NodeInfo {
  id: string;
  hostname: string;
  pid: number;
  /** Whether the node takes part in import (shared bucket access on and `import_docs` not false). */
  import_docs: boolean;
  /** Epoch milliseconds. */
  started_at: number;
  /** Epoch milliseconds of the last heartbeat written. */
  heartbeat_at: number;
  version: string;
}

export interface NodeRegistryOptions {
  /** Lifetime of the node record: a node that stops heartbeating is gone after this. */
  ttlMs?: number;
  /** How often the record is renewed. */
  heartbeatMs?: number;
}

function parseNode(record: StoredRecord): NodeInfo | null {
  try {
    const value = JSON.parse(record.value) as Partial<NodeInfo>;
    if (typeof value.id !== 'string') return null;
    return {
      id: value.id,
      hostname: typeof value.hostname === 'string' ? value.hostname : '',
      pid: typeof value.pid === 'number' ? value.pid : 0,
      import_docs: value.import_docs === true,
      started_at: typeof value.started_at === 'number' ? value.started_at : 0,
      heartbeat_at: typeof value.heartbeat_at === 'number' ? value.heartbeat_at : 0,
      version: typeof value.version === 'string' ? value.version : '',
    };
  } catch {
    return null;
  }
}

/** The nodes whose record has not expired, in id order. */
export async function liveNodes(bucket: Bucket): Promise<NodeInfo[]> {
  const records = await bucket.listRecords(NODE_PREFIX);
  return records.map(parseNode).filter((n): n is NodeInfo => n !== null);
}

/**
 * This node's membership record in a bucket: written at start, renewed on a timer with a TTL (so that a node
 * that dies disappears by itself) and deleted on a clean stop.
 */
export class NodeRegistry {
  readonly #bucket: Bucket;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #heartbeatMs: number;
  readonly #info: Omit<NodeInfo, 'heartbeat_at'>;
  #timer: NodeJS.Timeout | null = null;
  #beat: Promise<void> | null = null;
  #stopped = false;

  constructor(bucket: Bucket, log: Logger, info: { id: string; importDocs: boolean; version: string }, opts: NodeRegistryOptions = {}) {
    this.#bucket = bucket;
    this.#log = log;
    this.#ttlMs = opts.ttlMs ?? DEFAULT_NODE_TTL_MS;
    this.#heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#info = { id: info.id, hostname: hostname(), pid: process.pid, import_docs: info.importDocs, started_at: Date.now(), version: info.version };
  }

  get id(): string {
    return this.#info.id;
  }

  get key(): string {
    return nodeKey(this.#info.id);
  }

  /** Writes the record (awaited, so that the node is visible before its first lease round) and starts heartbeating. */
  async start(): Promise<void> {
    await this.#write();
    if (this.#stopped) return;
    this.#timer = setInterval(() => {
      if (this.#beat) return;
      this.#beat = this.#write()
        .catch((err: unknown) => {
          if (!this.#stopped) this.#log.warn({ err }, 'cluster heartbeat failed');
        })
        .finally(() => {
          this.#beat = null;
        });
    }, this.#heartbeatMs);
    this.#timer.unref();
  }

  async #write(): Promise<void> {
    const value = JSON.stringify({ ...this.#info, heartbeat_at: Date.now() } satisfies NodeInfo);
    await this.#bucket.setRecord(this.key, value, { ttlMs: this.#ttlMs, durable: false });
  }

  /** Stops heartbeating and removes the record (the node leaves the cluster at once). */
  async stop(): Promise<void> {
    await this.halt();
    try {
      await this.#bucket.deleteRecord(this.key);
    } catch (err) {
      this.#log.warn({ err }, 'could not remove the cluster node record');
    }
  }

  /** Stops heartbeating but leaves the record to expire, as a killed process would (tests). */
  async halt(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#beat;
  }
}
