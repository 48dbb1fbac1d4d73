import { defaultConflictWinner, Replicator, type Conflict, type ConflictResolution, type DocumentEvent, type ReplicatorStatus } from '@syncline/client';
import { ud, type Logger } from '../../base/logger.ts';
import type { ReplicationConfig } from '../../config/replication-schema.ts';
import type { DbContext } from '../../db/context.ts';
import { redactedConfig } from './config.ts';
import { DatabaseStore } from './database-store.ts';
import { CustomResolver } from './resolver.ts';

/** Sync Gateway's replication states (`_replicationStatus`). */
export type ReplicationState = 'running' | 'stopped' | 'error' | 'reconnecting' | 'starting';

/** What `GET /{db}/_replicationStatus/{id}` reports (Sync Gateway's field names where it has them). */
export interface ReplicationStatus {
  replication_id: string;
  status: ReplicationState;
  direction: ReplicationConfig['direction'];
  continuous: boolean;
  remote: string;
  /** Revisions pushed to the remote (Sync Gateway's docs_written). */
  docs_written: number;
  /** Revisions pulled from the remote (Sync Gateway's docs_read). */
  docs_read: number;
  /** Local documents purged because the remote revoked or removed them. */
  docs_purged: number;
  /** Revisions that failed either way (refused by a sync function, missing, ...). */
  doc_write_failures: number;
  /** Pushes refused as conflicts (they are resolved when pulled, in pushAndPull). */
  doc_write_conflict: number;
  /** Conflicts resolved locally by the conflict policy. */
  conflicts_resolved: number;
  last_error: string | null;
  /** Same as last_error, under Sync Gateway's name. */
  error_message: string | null;
  /** The node running it (its server uuid). */
  node: string | null;
  started_at: string | null;
  updated_at: string;
}

export interface RunOptions {
  db: DbContext & { readonly closed: boolean };
  config: ReplicationConfig;
  databaseUuid: string;
  nodeId: string;
  log: Logger;
  /** Called on every state change and progress (rate-limited by the caller). */
  onChange: () => void;
  /** Tests and one-shot REST calls shorten the retry delays. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
}

/** Logs a progress line at most this often while documents move. */
const PROGRESS_LOG_MS = 10_000;

/** The remote URL without credentials, and the credentials (from the URL or username/password). */
export function remoteOf(config: ReplicationConfig): { url: string; auth: { username: string; password: string } | undefined } {
  const url = new URL(config.remote);
  let auth: { username: string; password: string } | undefined;
  if (url.username) auth = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  if (config.username !== undefined) auth = { username: config.username, password: config.password ?? '' };
  url.username = '';
  url.password = '';
  return { url: url.toString(), auth };
}

/** One replication running on this node: the client Replicator over the database, with its counters. */
export class ReplicationRun {
  readonly id: string;
  readonly config: ReplicationConfig;
  readonly #opts: RunOptions;
  readonly #store: DatabaseStore;
  readonly #replicator: Replicator;
  readonly #resolver: CustomResolver | undefined;
  readonly #startedAt = new Date().toISOString();
  readonly #counts = { written: 0, read: 0, purged: 0, failures: 0, conflicts: 0, resolved: 0 };
  #state: ReplicationState = 'starting';
  #lastError: string | null = null;
  #hadError = false;
  #lastProgressLog = Date.now();
  #loggedTotal = 0;
  #done: Promise<ReplicationStatus> | undefined;

  constructor(opts: RunOptions) {
    this.#opts = opts;
    this.config = opts.config;
    this.id = opts.config.replication_id!;
    const config = opts.config;
    const channels = config.filter === 'sync_gateway/bychannel' ? config.query_params?.channels : undefined;
    this.#store = new DatabaseStore(opts.db, {
      databaseUuid: opts.databaseUuid,
      replicationId: this.id,
      channels,
      purgeOnRemoval: config.purge_on_removal,
    });
    this.#resolver = config.conflict_resolution_type === 'custom' ? CustomResolver.compile(config.custom_conflict_resolver!, { name: this.id }) : undefined;
    const { url, auth } = remoteOf(config);
    this.#replicator = new Replicator({
      url,
      db: this.#store,
      type: config.direction,
      continuous: config.continuous,
      ...(channels ? { channels: [...channels] } : {}),
      ...(auth ? { auth } : {}),
      ...(config.pinned_cert !== undefined ? { pinnedCert: config.pinned_cert } : {}),
      retry: { initialDelayMs: 1000, maxDelayMs: 10_000, ...(config.continuous ? {} : { maxAttempts: 3 }), ...opts.retry },
      checkpointSaveDelayMs: 1000,
      batchSize: config.batch_size,
      conflictResolver: (conflict) => this.#resolve(conflict),
    });
    this.#replicator.on('status', (status) => this.#statusChanged(status));
    this.#replicator.on('document', (event) => this.#documentEnded(event));
  }

  /** Resolves with the final status once the replication stops (one-shot done, permanent error, or stop()). */
  get done(): Promise<ReplicationStatus> {
    if (!this.#done) throw new Error('replication not started');
    return this.#done;
  }

  get state(): ReplicationState {
    return this.#state;
  }

  start(): void {
    this.#opts.log.info({ replication: this.id, direction: this.config.direction, continuous: this.config.continuous, remote: redactedConfig(this.config).remote }, 'replication starting');
    this.#replicator.start();
    this.#done = this.#replicator.whenStopped().then(() => this.status());
    // start() may already have failed synchronously into a state: report it.
    this.#statusChanged(this.#replicator.status);
  }

  /** Stops replicating (saving the checkpoint when connected). */
  async stop(): Promise<ReplicationStatus> {
    await this.#replicator.stop();
    this.#store.close();
    this.#resolver?.dispose();
    return this.status();
  }

  status(): ReplicationStatus {
    const c = this.#counts;
    return {
      replication_id: this.id,
      status: this.#state,
      direction: this.config.direction,
      continuous: this.config.continuous,
      remote: redactedConfig(this.config).remote,
      docs_written: c.written,
      docs_read: c.read,
      docs_purged: c.purged,
      doc_write_failures: c.failures,
      doc_write_conflict: c.conflicts,
      conflicts_resolved: c.resolved,
      last_error: this.#lastError,
      error_message: this.#lastError,
      node: this.#opts.nodeId,
      started_at: this.#startedAt,
      updated_at: new Date().toISOString(),
    };
  }

  #resolve(conflict: Conflict): ConflictResolution {
    const type = this.config.conflict_resolution_type;
    let resolution: ConflictResolution;
    if (type === 'localWins') resolution = 'local';
    else if (type === 'remoteWins') resolution = 'remote';
    else if (type === 'custom') resolution = this.#resolver!.resolve(conflict);
    else resolution = defaultConflictWinner(conflict.local, conflict.remote) === 'local' ? 'local' : 'remote';
    this.#counts.resolved++;
    this.#opts.log.debug({ replication: this.id, doc: ud(conflict.docId), local: conflict.local.revId, remote: conflict.remote.revId, resolution: typeof resolution === 'string' ? resolution : 'merged' }, 'conflict resolved');
    return resolution;
  }

  #statusChanged(status: ReplicatorStatus): void {
    if (status.error) {
      this.#lastError = status.error.message;
      this.#hadError = true;
    }
    let next: ReplicationState;
    switch (status.state) {
      case 'connecting':
        next = this.#hadError ? 'reconnecting' : 'starting';
        break;
      case 'offline':
        next = 'reconnecting';
        break;
      case 'stopped':
        next = status.error ? 'error' : 'stopped';
        break;
      case 'busy':
      case 'idle':
      case 'stopping':
        next = 'running';
    }
    if (next === this.#state) return;
    const log = this.#opts.log;
    if (next === 'error') log.warn({ replication: this.id, err: this.#lastError }, 'replication stopped on an error');
    else if (next === 'reconnecting') log.info({ replication: this.id, err: this.#lastError }, 'replication reconnecting');
    else if (next === 'stopped') log.info({ replication: this.id, ...this.#progress() }, 'replication stopped');
    else if (next === 'running') log.info({ replication: this.id }, 'replication running');
    this.#state = next;
    this.#opts.onChange();
  }

  #progress(): Record<string, number> {
    const c = this.#counts;
    return { docs_written: c.written, docs_read: c.read, docs_purged: c.purged, doc_write_failures: c.failures };
  }

  #documentEnded(event: DocumentEvent): void {
    const c = this.#counts;
    if (event.error) {
      c.failures++;
      if (event.error.status === 409) c.conflicts++;
      this.#opts.log.debug({ replication: this.id, doc: ud(event.docId), rev: event.revId, direction: event.direction, status: event.error.status, reason: event.error.message }, 'document not replicated');
    } else if (event.purged) c.purged++;
    else if (event.direction === 'pull') c.read++;
    else c.written++;
    const now = Date.now();
    const total = c.written + c.read + c.purged + c.failures;
    if (now - this.#lastProgressLog >= PROGRESS_LOG_MS && total !== this.#loggedTotal) {
      this.#lastProgressLog = now;
      this.#loggedTotal = total;
      this.#opts.log.info({ replication: this.id, ...this.#progress() }, 'replication progress');
    }
  }
}
