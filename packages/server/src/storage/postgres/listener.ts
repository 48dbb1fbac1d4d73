import pg from 'pg';
import type { BucketEvent } from '../bucket.ts';
import { q } from './pg-db.ts';

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;

/** Parses a notification payload sent by this engine ("s:<seq>", "m", "r:<key>", "resync"). */
export function parsePayload(payload: string | undefined): BucketEvent | null {
  if (payload === undefined) return null;
  if (payload === 'm') return { kind: 'mutations' };
  if (payload === 'resync') return { kind: 'resync' };
  if (payload.startsWith('s:')) {
    const seq = Number(payload.slice(2));
    return Number.isSafeInteger(seq) ? { kind: 'sequence', seq } : null;
  }
  if (payload.startsWith('r:')) return { kind: 'record', key: payload.slice(2) };
  return null;
}

/**
 * Bucket events: local ones are delivered at once; other processes' ones arrive through LISTEN on a dedicated
 * connection (not from the pool), started on the first listener. Notifications sent by this bucket's own pool
 * connections are skipped (they were delivered locally already). When the connection drops it is reopened with
 * backoff, and listeners get a `resync` once it is back, since notifications may have been lost meanwhile.
 */
export class BucketListener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #ownPids: ReadonlySet<number>;
  readonly #listeners = new Set<(event: BucketEvent) => void>();
  #client: pg.Client | null = null;
  #started = false;
  #closed = false;
  #timer: NodeJS.Timeout | null = null;
  #backoff = MIN_BACKOFF_MS;
  #connectedOnce = false;
  /** Resolves when the current connection attempt has finished (for tests and orderly close). */
  #connecting: Promise<void> = Promise.resolve();

  constructor(config: pg.ClientConfig, channel: string, ownPids: ReadonlySet<number>) {
    this.#config = config;
    this.#channel = channel;
    this.#ownPids = ownPids;
  }

  /** Adds a listener; returns its remover. */
  add(listener: (event: BucketEvent) => void): () => void {
    const wrapped = (event: BucketEvent): void => listener(event);
    this.#listeners.add(wrapped);
    if (!this.#started && !this.#closed) {
      this.#started = true;
      this.#connecting = this.#connect();
    }
    return () => {
      this.#listeners.delete(wrapped);
    };
  }

  /** Waits until LISTEN is in place (or the current attempt failed). */
  async ready(): Promise<void> {
    await this.#connecting;
  }

  emit(event: BucketEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not break the others or the writer that caused the event.
      }
    }
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ ...this.#config, keepAlive: true });
    let failed = false;
    const fail = (): void => {
      if (failed) return;
      failed = true;
      if (this.#client === client) this.#client = null;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      this.#scheduleReconnect();
    };
    client.on('error', fail);
    client.on('end', fail);
    client.on('notification', (message) => {
      if (message.channel !== this.#channel || this.#ownPids.has(message.processId)) return;
      const event = parsePayload(message.payload);
      if (event) this.emit(event);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${q(this.#channel)}`);
    } catch {
      fail();
      return;
    }
    if (this.#closed || failed) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#backoff = MIN_BACKOFF_MS;
    if (this.#connectedOnce) this.emit({ kind: 'resync' });
    this.#connectedOnce = true;
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#timer) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      // A failure to reconnect is not "having been connected": the resync comes after the first success.
      this.#connectedOnce = true;
      this.#connecting = this.#connect();
    }, delay);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#connecting.catch(() => {});
    const client = this.#client;
    this.#client = null;
    if (client) {
      client.removeAllListeners('end');
      client.removeAllListeners('error');
      client.on('error', () => {});
      await client.end().catch(() => {});
    }
  }
}
