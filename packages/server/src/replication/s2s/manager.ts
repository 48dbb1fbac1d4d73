import { createHash, randomUUID } from 'node:crypto';
import { badRequest, notFound } from '../../base/errors.ts';
import { keyed, type Logger } from '../../base/logger.ts';
import { ConfigError } from '../../config/load.ts';
import type { ReplicationConfig } from '../../config/replication-schema.ts';
import type { DbContext } from '../../db/context.ts';
import { parseReplicationConfig, redactedConfig } from './config.ts';
import { checkpointPrefix, DEF_PREFIX, defKey, leaseKey, REPLICATION_PREFIX, remoteRevPrefix, statusKey, UUID_KEY } from './records.ts';
import { ReplicationRun, type ReplicationState, type ReplicationStatus } from './runner.ts';

/** Lease timings: renewed every 2 s, lost 8 s after the last renewal. */
const LEASE_TTL_MS = 8000;
const TICK_MS = 2000;
/** The running node writes its status this often (and on every state change). */
const STATUS_WRITE_MS = 1000;
/** A live status not refreshed for this long is from a node that is gone. */
const STALE_STATUS_MS = 10_000;

/** A stored definition: the config, and for an override of a config-declared one, that config as it was. */
interface StoredDef {
  config: ReplicationConfig;
  from_config?: string;
}

interface Definition {
  config: ReplicationConfig;
  source: 'config' | 'rest';
}

interface Running {
  run: ReplicationRun;
  /** JSON of the config it was started with: a change restarts it. */
  configJson: string;
  leaseVersion: number | null;
  timer: NodeJS.Timeout;
  lastWritten: string;
}

type DatabaseLike = DbContext & { readonly closed: boolean; readonly serverUuid: string };

const configJson = (config: ReplicationConfig): string => {
  const { state: _state, ...rest } = config;
  return JSON.stringify(rest);
};

/** Error for REST callers from a ConfigError: 400 naming the field. */
export function asBadRequest(err: unknown): never {
  if (err instanceof ConfigError) throw badRequest(err.message);
  throw err;
}

/**
 * The server-to-server replications of one database (Sync Gateway's ISGR). Definitions come from the config
 * (`databases.NAME.replications`) and from bucket records (REST). Every node runs a manager; each replication
 * runs on the one node holding its lease record, which writes its status into a record that any node reads.
 * Ad hoc replications (`POST /_replicate`) run on the node that received them, without lease or record.
 */
export class ReplicationManager {
  readonly #db: DatabaseLike;
  readonly #log: Logger;
  readonly #configDefs = new Map<string, ReplicationConfig>();
  readonly #running = new Map<string, Running>();
  readonly #adhoc = new Map<string, ReplicationRun>();
  #uuid: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unwatch: (() => void) | undefined;
  #chain: Promise<void> = Promise.resolve();
  #queued = false;
  #stopped = false;

  /** Validates the config-declared replications (throws ConfigError naming the field). */
  constructor(db: DatabaseLike, logger: Logger) {
    this.#db = db;
    this.#log = keyed(logger, 'Replicate', { db: db.name });
    for (const [id, config] of Object.entries(db.config.replications ?? {})) {
      this.#configDefs.set(id, parseReplicationConfig(id, config, `databases.${db.name}.replications.${id}`));
    }
  }

  /** Starts the lease rounds; the first one runs at once (in the background). */
  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => void this.#tick(), TICK_MS);
    this.#timer.unref();
    this.#unwatch = this.#db.bucket.watch((event) => {
      if (event.kind === 'record' && event.key.startsWith(DEF_PREFIX)) void this.#tick();
    });
    void this.#tick();
  }

  /** Stops every replication of this node, saving checkpoints and giving up leases. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#unwatch?.();
    await this.#chain;
    await Promise.all([...this.#running.keys()].map((id) => this.#stopRun(id, { release: true })));
    await Promise.all([...this.#adhoc.values()].map((run) => run.stop()));
    this.#adhoc.clear();
  }

  // ---- definitions ----

  async #definitions(): Promise<Map<string, Definition>> {
    const defs = new Map<string, Definition>();
    for (const [id, config] of this.#configDefs) defs.set(id, { config, source: 'config' });
    for (const record of await this.#db.bucket.listRecords(DEF_PREFIX)) {
      const id = record.key.slice(DEF_PREFIX.length);
      try {
        const stored = JSON.parse(record.value) as StoredDef;
        const declared = this.#configDefs.get(id);
        // An override of a config-declared replication yields to a changed config.
        if (declared && stored.from_config !== undefined && stored.from_config !== configJson(declared)) continue;
        defs.set(id, { config: parseReplicationConfig(id, stored.config), source: declared ? 'config' : 'rest' });
      } catch (err) {
        this.#log.warn({ replication: id, err: (err as Error).message }, 'ignoring an invalid stored replication');
      }
    }
    return defs;
  }

  async #definition(id: string): Promise<Definition | undefined> {
    return (await this.#definitions()).get(id);
  }

  async #storeDef(config: ReplicationConfig): Promise<void> {
    const id = config.replication_id!;
    const declared = this.#configDefs.get(id);
    const value: StoredDef = { config, ...(declared ? { from_config: configJson(declared) } : {}) };
    await this.#db.bucket.setRecord(defKey(id), JSON.stringify(value));
  }

  async #databaseUuid(): Promise<string> {
    if (this.#uuid) return this.#uuid;
    const bucket = this.#db.bucket;
    const existing = await bucket.getRecord(UUID_KEY);
    if (existing) return (this.#uuid = existing.value);
    const created = await bucket.setRecord(UUID_KEY, randomUUID().replaceAll('-', ''), { expectedVersion: 0 });
    this.#uuid = created ? created.value : (await bucket.getRecord(UUID_KEY))!.value;
    return this.#uuid;
  }

  // ---- lease rounds ----

  /** Runs one round now (after the current one); rounds never overlap. */
  #tick(): Promise<void> {
    if (this.#queued || this.#stopped) return this.#chain;
    this.#queued = true;
    this.#chain = this.#chain.then(async () => {
      this.#queued = false;
      if (this.#stopped || this.#db.closed) return;
      try {
        await this.#round();
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'replication round failed');
      }
    });
    return this.#chain;
  }

  async #round(): Promise<void> {
    const defs = await this.#definitions();
    for (const [id, running] of [...this.#running]) {
      const def = defs.get(id);
      if (!def || def.config.state === 'stopped' || configJson(def.config) !== running.configJson) {
        await this.#stopRun(id, { release: true });
        continue;
      }
      if (!(await this.#renew(id, running))) {
        this.#log.warn({ replication: id }, 'replication lease lost; stopping it on this node');
        await this.#stopRun(id, { release: false });
      }
    }
    for (const [id, def] of defs) {
      if (this.#stopped) return;
      if (def.config.state === 'stopped' || this.#running.has(id) || this.#adhoc.has(id)) continue;
      const version = await this.#acquire(id);
      if (version !== null) await this.#startRun(def.config, version);
    }
  }

  #leaseValue(): string {
    return JSON.stringify({ node: this.#db.serverUuid, acquired_at: Date.now() });
  }

  async #acquire(id: string): Promise<number | null> {
    const record = await this.#db.bucket.setRecord(leaseKey(id), this.#leaseValue(), { expectedVersion: 0, ttlMs: LEASE_TTL_MS, durable: false });
    return record ? record.version : null;
  }

  async #renew(id: string, running: Running): Promise<boolean> {
    if (running.leaseVersion === null) return true;
    const record = await this.#db.bucket.setRecord(leaseKey(id), this.#leaseValue(), { expectedVersion: running.leaseVersion, ttlMs: LEASE_TTL_MS, durable: false });
    if (!record) return false;
    running.leaseVersion = record.version;
    return true;
  }

  async #startRun(config: ReplicationConfig, leaseVersion: number): Promise<void> {
    const id = config.replication_id!;
    let run: ReplicationRun;
    try {
      run = new ReplicationRun({
        db: this.#db,
        config,
        databaseUuid: await this.#databaseUuid(),
        nodeId: this.#db.serverUuid,
        log: this.#log,
        onChange: () => void this.#writeStatus(id),
      });
    } catch (err) {
      this.#log.error({ replication: id, err: (err as Error).message }, 'replication cannot start');
      await this.#db.bucket.deleteRecord(leaseKey(id), { expectedVersion: leaseVersion });
      return;
    }
    const timer = setInterval(() => void this.#writeStatus(id), STATUS_WRITE_MS);
    timer.unref();
    this.#running.set(id, { run, configJson: configJson(config), leaseVersion, timer, lastWritten: '' });
    run.start();
    void run.done.then((status) => this.#finished(id, run, status));
  }

  /** A run ended by itself (one-shot done, or a permanent error): it stays stopped until started again. */
  async #finished(id: string, run: ReplicationRun, status: ReplicationStatus): Promise<void> {
    const running = this.#running.get(id);
    if (!running || running.run !== run || this.#stopped) return;
    await this.#tickExclusive(async () => {
      if (this.#running.get(id)?.run !== run) return;
      const def = await this.#definition(id);
      if (def && def.config.state !== 'stopped') await this.#storeDef({ ...def.config, state: 'stopped' });
      await this.#stopRun(id, { release: true });
      this.#log.info({ replication: id, status: status.status }, 'replication finished');
    });
  }

  #tickExclusive(task: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(task).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'replication task failed'));
    this.#chain = next;
    return next;
  }

  async #stopRun(id: string, opts: { release: boolean }): Promise<void> {
    const running = this.#running.get(id);
    if (!running) return;
    this.#running.delete(id);
    clearInterval(running.timer);
    const status = await running.run.stop();
    // A node that lost the lease must not overwrite the status record of the node that now holds it.
    if (opts.release) await this.#putStatus(id, status).catch(() => undefined);
    if (opts.release && running.leaseVersion !== null) {
      await this.#db.bucket.deleteRecord(leaseKey(id), { expectedVersion: running.leaseVersion }).catch(() => false);
    }
  }

  async #writeStatus(id: string): Promise<void> {
    const running = this.#running.get(id);
    if (!running || this.#db.closed) return;
    await this.#putStatus(id, running.run.status()).catch(() => undefined);
  }

  async #putStatus(id: string, status: ReplicationStatus): Promise<void> {
    await this.#db.bucket.setRecord(statusKey(id), JSON.stringify(status), { durable: false });
  }

  // ---- REST ----

  /** `GET /{db}/_replication/`: every definition by id (passwords hidden). */
  async list(): Promise<Record<string, ReplicationConfig>> {
    const out: Record<string, ReplicationConfig> = {};
    for (const [id, def] of [...(await this.#definitions())].sort(([a], [b]) => a.localeCompare(b))) out[id] = redactedConfig(def.config);
    for (const [id, run] of this.#adhoc) out[id] = redactedConfig(run.config);
    return out;
  }

  async get(id: string): Promise<ReplicationConfig> {
    const adhoc = this.#adhoc.get(id);
    if (adhoc) return redactedConfig(adhoc.config);
    const def = await this.#definition(id);
    if (!def) throw notFound(`no replication "${id}"`);
    return redactedConfig(def.config);
  }

  /** `PUT /{db}/_replication/{id}`: creates or replaces a definition; true when created. */
  async put(id: string, input: unknown): Promise<boolean> {
    if (this.#adhoc.has(id)) throw badRequest(`replication "${id}" is an ad hoc replication`);
    let config: ReplicationConfig;
    try {
      config = parseReplicationConfig(id, input);
    } catch (err) {
      asBadRequest(err);
    }
    const existed = (await this.#definition(id)) !== undefined;
    await this.#storeDef(config);
    await this.#tick();
    return !existed;
  }

  /** `DELETE /{db}/_replication/{id}`: stops it and removes its definition, status and checkpoints. */
  async delete(id: string): Promise<void> {
    const adhoc = this.#adhoc.get(id);
    if (adhoc) {
      this.#adhoc.delete(id);
      await adhoc.stop();
      return;
    }
    if (this.#configDefs.has(id)) throw badRequest(`replication "${id}" is declared in the configuration; stop it with _replicationStatus?action=stop`);
    if (!(await this.#db.bucket.deleteRecord(defKey(id)))) throw notFound(`no replication "${id}"`);
    await this.#tick();
    await this.#deleteState(id);
  }

  async #deleteState(id: string): Promise<void> {
    const bucket = this.#db.bucket;
    await bucket.deleteRecord(statusKey(id));
    for (const prefix of [checkpointPrefix(id), remoteRevPrefix(id)]) {
      for (const record of await bucket.listRecords(prefix)) await bucket.deleteRecord(record.key);
    }
  }

  /** `GET /{db}/_replicationStatus/{id}`: live on the running node, else what the running node last stored. */
  async status(id: string): Promise<ReplicationStatus> {
    const live = this.#running.get(id)?.run ?? this.#adhoc.get(id);
    if (live) return live.status();
    const def = await this.#definition(id);
    if (!def) throw notFound(`no replication "${id}"`);
    return this.#storedStatus(def);
  }

  async #storedStatus(def: Definition): Promise<ReplicationStatus> {
    const id = def.config.replication_id!;
    const record = await this.#db.bucket.getRecord(statusKey(id));
    const stored = record ? (JSON.parse(record.value) as ReplicationStatus) : undefined;
    const liveState = (s: ReplicationState): boolean => s !== 'stopped' && s !== 'error';
    const base: ReplicationStatus = stored ?? {
      replication_id: id,
      status: 'stopped',
      direction: def.config.direction,
      continuous: def.config.continuous,
      remote: redactedConfig(def.config).remote,
      docs_written: 0,
      docs_read: 0,
      docs_purged: 0,
      doc_write_failures: 0,
      doc_write_conflict: 0,
      conflicts_resolved: 0,
      last_error: null,
      error_message: null,
      node: null,
      started_at: null,
      updated_at: new Date().toISOString(),
    };
    if (def.config.state === 'stopped') return liveState(base.status) ? { ...base, status: 'stopped' } : base;
    const stale = !stored || !liveState(stored.status) || Date.now() - Date.parse(stored.updated_at) > STALE_STATUS_MS;
    return stale ? { ...base, status: 'starting' } : base;
  }

  /** `GET /{db}/_replicationStatus/`. */
  async statuses(): Promise<ReplicationStatus[]> {
    const out: ReplicationStatus[] = [];
    for (const def of (await this.#definitions()).values()) out.push(await this.status(def.config.replication_id!));
    for (const run of this.#adhoc.values()) out.push(run.status());
    return out.sort((a, b) => a.replication_id.localeCompare(b.replication_id));
  }

  /** `PUT /{db}/_replicationStatus/{id}?action=start|stop|reset`. */
  async action(id: string, action: string): Promise<ReplicationStatus> {
    if (action !== 'start' && action !== 'stop' && action !== 'reset') throw badRequest('action must be start, stop or reset');
    const adhoc = this.#adhoc.get(id);
    if (adhoc) {
      if (action !== 'stop') throw badRequest(`ad hoc replication "${id}" can only be stopped`);
      this.#adhoc.delete(id);
      return adhoc.stop();
    }
    const def = await this.#definition(id);
    if (!def) throw notFound(`no replication "${id}"`);
    if (action === 'reset') {
      const status = await this.status(id);
      if (def.config.state !== 'stopped' || this.#running.has(id) || (status.status !== 'stopped' && status.status !== 'error')) {
        throw badRequest(`replication "${id}" must be stopped before a reset`);
      }
      for (const record of await this.#db.bucket.listRecords(checkpointPrefix(id))) await this.#db.bucket.deleteRecord(record.key);
      this.#log.info({ replication: id }, 'replication checkpoint reset');
      return this.status(id);
    }
    const state = action === 'start' ? 'running' : 'stopped';
    if (def.config.state !== state) await this.#storeDef({ ...def.config, state });
    await this.#tick();
    return this.status(id);
  }

  /**
   * `POST /{db}/_replicate` and `POST /_replicate`: an ad hoc replication on this node. One-shot: resolves
   * with its final status. Continuous: resolves at once with its status (stop it with DELETE or action=stop).
   * Without `replication_id`, the id derives from the options, so the same call resumes from its checkpoint.
   */
  async replicate(input: Record<string, unknown>): Promise<ReplicationStatus> {
    const body: Record<string, unknown> = { continuous: false, ...input };
    const id =
      typeof body.replication_id === 'string'
        ? body.replication_id
        : `replicate-${createHash('sha1').update(JSON.stringify(body)).digest('hex').slice(0, 16)}`;
    let config: ReplicationConfig;
    try {
      config = parseReplicationConfig(id, body);
    } catch (err) {
      asBadRequest(err);
    }
    if (this.#adhoc.has(id) || this.#running.has(id) || (await this.#definition(id))) throw badRequest(`replication "${id}" already exists`);
    const run = new ReplicationRun({
      db: this.#db,
      config: { ...config, state: 'running' },
      databaseUuid: await this.#databaseUuid(),
      nodeId: this.#db.serverUuid,
      log: this.#log,
      onChange: () => undefined,
    });
    this.#adhoc.set(id, run);
    run.start();
    void run.done.then(() => {
      if (this.#adhoc.get(id) === run && !config.continuous) this.#adhoc.delete(id);
    });
    if (config.continuous) return run.status();
    const final = await run.done;
    await run.stop();
    return final;
  }
}

/** Every record of the replications, for tests and diagnostics. */
export const REPLICATION_RECORDS_PREFIX = REPLICATION_PREFIX;
