import type { Logger } from '../base/logger.ts';
import type { Bucket, BucketEvent } from '../storage/bucket.ts';
import { NODE_PREFIX, NodeRegistry } from './node-registry.ts';
import { leasePrefix, PartitionLeases } from './partition-leases.ts';

/** Timings of cluster membership and import leases (tests shorten them). */
export interface ClusterOptions {
  /** Lifetime of a node record that is not renewed (default 8 s). */
  nodeTtlMs?: number;
  /** How often a node renews its record (default 2 s). */
  heartbeatMs?: number;
  /** Lifetime of an import lease that is not renewed (default 8 s). */
  leaseTtlMs?: number;
  /** How often leases are renewed and the partition assignment looked at again (default 2 s). */
  leaseRenewMs?: number;
  /** Version published in the node record. */
  version?: string;
}

const DEFAULT_VERSION = '0.1.0';

/**
 * One open database's part in a cluster: its node record and, on an import node, its leases on the
 * partitions of the collection it imports. Several processes configured with the same database share one
 * bucket; each of them is a node of that bucket.
 */
export class ClusterMember {
  readonly registry: NodeRegistry;
  /** Null on a node that does not import (`import_docs: false` or no shared bucket access). */
  readonly leases: PartitionLeases | null;
  readonly #bucket: Bucket;
  readonly #leasePrefix: string;
  readonly #known = new Set<string>();
  #unwatch: (() => void) | null = null;

  constructor(bucket: Bucket, collection: string, log: Logger, node: { id: string; importDocs: boolean }, opts: ClusterOptions = {}) {
    this.#bucket = bucket;
    this.#leasePrefix = leasePrefix(collection);
    this.registry = new NodeRegistry(
      bucket,
      log,
      { id: node.id, importDocs: node.importDocs, version: opts.version ?? DEFAULT_VERSION },
      { ...(opts.nodeTtlMs !== undefined ? { ttlMs: opts.nodeTtlMs } : {}), ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}) },
    );
    this.leases = node.importDocs
      ? new PartitionLeases(bucket, collection, node.id, log, {
          ...(opts.leaseTtlMs !== undefined ? { ttlMs: opts.leaseTtlMs } : {}),
          ...(opts.leaseRenewMs !== undefined ? { renewMs: opts.leaseRenewMs } : {}),
        })
      : null;
  }

  get nodeId(): string {
    return this.registry.id;
  }

  /** Registers the node and starts the lease rounds (whose first round the import worker waits for). */
  async start(): Promise<void> {
    await this.registry.start();
    if (this.leases) {
      this.#unwatch = this.#bucket.watch((event) => this.#onEvent(event));
      void this.leases.start();
    }
  }

  /** Reacts at once to a node joining or leaving, or to a lease given up that this node should take. */
  #onEvent(event: BucketEvent): void {
    if (event.kind !== 'record' || !this.leases) return;
    const { key } = event;
    if (key.startsWith(NODE_PREFIX)) {
      const id = key.slice(NODE_PREFIX.length);
      if (id !== this.nodeId) void this.#checkNode(id, key);
    } else if (key.startsWith(this.#leasePrefix)) {
      const p = Number(key.slice(this.#leasePrefix.length));
      if (Number.isInteger(p) && this.leases.wants(p) && !this.leases.owns(p)) this.leases.trigger();
    }
  }

  /** A heartbeat changes nothing; a node appearing or disappearing changes the assignment. */
  async #checkNode(id: string, key: string): Promise<void> {
    try {
      const present = (await this.#bucket.getRecord(key)) !== null;
      if (present === this.#known.has(id)) return;
      if (present) this.#known.add(id);
      else this.#known.delete(id);
      this.leases?.trigger();
    } catch {
      // The periodic round catches up.
    }
  }

  /** Clean shutdown: releases the leases (after in-flight batches) and removes the node record. */
  async stop(): Promise<void> {
    this.#unwatch?.();
    this.#unwatch = null;
    await this.leases?.stop();
    await this.registry.stop();
  }

  /** Stops every timer and listener but leaves the records to expire, as a killed process would (tests). */
  async halt(): Promise<void> {
    this.#unwatch?.();
    this.#unwatch = null;
    await this.leases?.halt();
    await this.registry.halt();
  }
}
