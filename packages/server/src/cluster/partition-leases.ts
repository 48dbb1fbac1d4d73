import type { Logger } from '../base/logger.ts';
import type { Bucket } from '../storage/bucket.ts';
import { desiredPartitions } from './assignment.ts';
import { liveNodes } from './node-registry.ts';

/** Key prefix of the import leases: `_sync:cluster:lease:<collection>:<partition>`. */
export const LEASE_PREFIX = '_sync:cluster:lease:';
export const leasePrefix = (collection: string): string => `${LEASE_PREFIX}${collection}:`;
export const leaseKey = (collection: string, partition: number): string => `${leasePrefix(collection)}${partition}`;

export const DEFAULT_LEASE_TTL_MS = 8000;
export const DEFAULT_LEASE_RENEW_MS = 2000;

/** A lease record's value. */
export interface LeaseValue {
  node: string;
  acquired_at: number;
}

export function parseLease(value: string): LeaseValue | null {
  try {
    const parsed = JSON.parse(value) as Partial<LeaseValue>;
    return typeof parsed.node === 'string' ? { node: parsed.node, acquired_at: Number(parsed.acquired_at) || 0 } : null;
  } catch {
    return null;
  }
}

export interface PartitionLeasesOptions {
  /** Lifetime of a lease that is not renewed. */
  ttlMs?: number;
  /** How often leases are renewed and the assignment looked at again. */
  renewMs?: number;
}

/** What the lease holder tells the import worker. */
export interface LeaseListener {
  /** The partition is now ours: its checkpoint must be read again (another node may have advanced it). */
  gained(partition: number): void;
  /** The partition is no longer ours (renewal failed, or it expired unrenewed): stop importing it at once. */
  lost(partition: number): void;
  /** Resolves once no batch of the partition is in flight; awaited before a lease is given up. */
  drain(partition: number): Promise<void>;
}

interface Held {
  version: number;
  acquiredAt: number;
  /** Local time after which the lease may have expired (its TTL counted from before the write). */
  validUntil: number;
}

/**
 * The import leases of one node on one collection's partitions. Each round, it renews the leases it holds,
 * gives up those the assignment now gives to another node (after their in-flight batch), and takes the ones it
 * should own whose lease is absent or expired. Leases are records written with compare-and-set on their version,
 * so two nodes never hold one partition at once; a node that dies loses its leases when they expire.
 */
export class PartitionLeases {
  readonly #bucket: Bucket;
  readonly #collection: string;
  readonly #nodeId: string;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #renewMs: number;
  readonly #held = new Map<number, Held>();
  readonly #releasing = new Set<number>();
  #desired = new Set<number>();
  #listener: LeaseListener | null = null;
  #chain: Promise<void> = Promise.resolve();
  #queued: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #firstRound: Promise<void> | null = null;

  constructor(bucket: Bucket, collection: string, nodeId: string, log: Logger, opts: PartitionLeasesOptions = {}) {
    this.#bucket = bucket;
    this.#collection = collection;
    this.#nodeId = nodeId;
    this.#log = log;
    this.#ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.#renewMs = opts.renewMs ?? DEFAULT_LEASE_RENEW_MS;
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  attach(listener: LeaseListener): void {
    this.#listener = listener;
  }

  /** Whether this node may import the partition now: it holds a lease that has not run out. */
  owns(partition: number): boolean {
    const held = this.#held.get(partition);
    return held !== undefined && !this.#releasing.has(partition) && Date.now() < held.validUntil;
  }

  /** The partitions this node may import now, ascending. */
  owned(): number[] {
    return [...this.#held.keys()].filter((p) => this.owns(p)).sort((a, b) => a - b);
  }

  /** Whether the current assignment gives the partition to this node (held or not yet). */
  wants(partition: number): boolean {
    return this.#desired.has(partition);
  }

  /** Runs a first round, then one every renewMs. Resolves when the first round is done. */
  start(): Promise<void> {
    if (!this.#firstRound) {
      this.#firstRound = this.runRound();
      this.#timer = setInterval(() => this.trigger(), this.#renewMs);
      this.#timer.unref();
    }
    return this.#firstRound;
  }

  /** Resolves once the first round is done. */
  ready(): Promise<void> {
    return this.#firstRound ?? Promise.resolve();
  }

  /** Runs a round soon (another node joined or left, or a lease was released). */
  trigger(): void {
    if (!this.#stopped) void this.runRound();
  }

  /**
   * One round. Rounds never overlap: a call during a round queues one more, and calls made before that one
   * starts share it.
   */
  runRound(): Promise<void> {
    if (this.#queued) return this.#queued;
    const next = this.#chain.then(async () => {
      this.#queued = null;
      try {
        await this.#roundOnce();
      } catch (err) {
        if (!this.#stopped) this.#log.warn({ err }, 'import lease round failed');
      }
    });
    this.#queued = next;
    this.#chain = next;
    return next;
  }

  async #roundOnce(): Promise<void> {
    if (this.#stopped) return;
    const nodes = await liveNodes(this.#bucket);
    const importers = nodes.filter((n) => n.import_docs).map((n) => n.id);
    // This node is alive, whatever its record says at this instant.
    if (!importers.includes(this.#nodeId)) importers.push(this.#nodeId);
    const desired = new Set(desiredPartitions(this.#nodeId, importers, this.#bucket.partitions));
    this.#desired = desired;
    const lost: number[] = [];
    const gained: number[] = [];
    // Renewals first: they are what keeps the leases alive.
    for (const [p, held] of [...this.#held]) {
      if (this.#stopped) return;
      if (!desired.has(p)) continue;
      const validUntil = Date.now() + this.#ttlMs;
      const record = await this.#bucket.setRecord(leaseKey(this.#collection, p), this.#value(held.acquiredAt), {
        expectedVersion: held.version,
        ttlMs: this.#ttlMs,
        durable: false,
      });
      if (record) this.#held.set(p, { ...held, version: record.version, validUntil });
      else {
        this.#held.delete(p);
        lost.push(p);
        this.#listener?.lost(p);
      }
    }
    const released: number[] = [];
    for (const p of [...this.#held.keys()]) {
      if (this.#stopped) return;
      if (!desired.has(p) && (await this.#release(p))) released.push(p);
    }
    for (const p of desired) {
      if (this.#stopped) return;
      if (this.#held.has(p)) continue;
      if (await this.#acquire(p)) {
        gained.push(p);
        this.#listener?.gained(p);
      }
    }
    if (lost.length > 0) this.#log.warn({ node: this.#nodeId, partitions: lost }, 'import partition leases lost');
    if (released.length > 0) this.#log.info({ node: this.#nodeId, partitions: released }, 'import partition leases released');
    if (gained.length > 0) this.#log.info({ node: this.#nodeId, partitions: gained, nodes: importers.length }, 'import partition leases gained');
  }

  #value(acquiredAt: number): string {
    return JSON.stringify({ node: this.#nodeId, acquired_at: acquiredAt } satisfies LeaseValue);
  }

  async #acquire(p: number): Promise<boolean> {
    const key = leaseKey(this.#collection, p);
    const acquiredAt = Date.now();
    const validUntil = acquiredAt + this.#ttlMs;
    let record = await this.#bucket.setRecord(key, this.#value(acquiredAt), { expectedVersion: 0, ttlMs: this.#ttlMs, durable: false });
    if (!record) {
      // Still ours from before (e.g. a renewal whose answer was lost): take it back by renewing it.
      const current = await this.#bucket.getRecord(key);
      const lease = current ? parseLease(current.value) : null;
      if (!current || lease?.node !== this.#nodeId) return false;
      record = await this.#bucket.setRecord(key, this.#value(lease.acquired_at), { expectedVersion: current.version, ttlMs: this.#ttlMs, durable: false });
      if (!record) return false;
    }
    this.#held.set(p, { version: record.version, acquiredAt, validUntil });
    return true;
  }

  /** Gives up a held lease once its in-flight batch is done; false when it was lost meanwhile. */
  async #release(p: number): Promise<boolean> {
    const held = this.#held.get(p);
    if (!held) return false;
    this.#releasing.add(p);
    try {
      await this.#listener?.drain(p);
      this.#held.delete(p);
      return await this.#bucket.deleteRecord(leaseKey(this.#collection, p), { expectedVersion: held.version });
    } finally {
      this.#releasing.delete(p);
    }
  }

  #halt(): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Stops the rounds and releases every lease held (after its in-flight batch), for a clean shutdown. */
  async stop(): Promise<void> {
    this.#halt();
    await this.#chain;
    const held = [...this.#held.keys()];
    for (const p of held) {
      try {
        await this.#release(p);
      } catch (err) {
        this.#log.warn({ err, partition: p }, 'could not release an import lease');
      }
    }
    if (held.length > 0) this.#log.info({ node: this.#nodeId, partitions: held }, 'import partition leases released');
  }

  /** Stops the rounds and forgets the leases without releasing them, as a killed process would (tests). */
  async halt(): Promise<void> {
    this.#halt();
    await this.#chain;
    this.#held.clear();
  }
}
