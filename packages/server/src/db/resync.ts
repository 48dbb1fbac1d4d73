import { yieldToEventLoop } from '../base/yield.ts';
import { needsImport } from './import/import-doc.ts';
import { readManyImported } from './import/importer.ts';
import { randomUUID } from 'node:crypto';
import { badRequest, isSynclineError, unavailable } from '../base/errors.ts';
import type { SyncResult } from '../channels/index.ts';
import { leaves } from '../document/index.ts';
import type { DocumentCommit, StoredDoc } from '../storage/bucket.ts';
import { channelFields, channelsChanged, grantsOf, storedChannelsOf, winnerGrantsOf, type ChannelPlan } from './crud/channel-state.ts';
import { revisionContent, toCurrent, type CurrentDoc, type RevisionContent } from './crud/current.ts';
import { runSync, syncDoc } from './crud/sync-run.ts';
import type { Database } from './database.ts';
import { serializeMeta, type SyncMeta } from './doc-meta.ts';

/** States of a resync run, as Sync Gateway's background processes report them. */
export type ResyncState = 'running' | 'completed' | 'stopping' | 'stopped' | 'error';

/** `GET /{db}/_resync`, shaped as Sync Gateway's resync status. */
export interface ResyncStatus {
  status: ResyncState;
  resync_id: string;
  start_time: string | null;
  last_error: string;
  docs_changed: number;
  docs_processed: number;
}

export interface ResyncOptions {
  /** Give every document a new sequence, changed or not. */
  regenerateSequences?: boolean;
  /** Start over instead of resuming a stopped run. */
  reset?: boolean;
}

const PAGE = 200;
const PROGRESS_EVERY = 1000;
const MAX_ATTEMPTS = 5;

/** One resync of a database: runs in the background, stoppable, resumable after a stop. */
class ResyncJob {
  readonly status: ResyncStatus;
  /** Last document id processed: a stopped run resumes after it. */
  lastId: string | undefined;
  #stop = false;
  #done: Promise<void> = Promise.resolve();

  constructor(resume: ResyncJob | undefined) {
    const base = resume?.status;
    this.status = {
      status: 'running',
      resync_id: base?.resync_id ?? randomUUID(),
      start_time: base?.start_time ?? new Date().toISOString(),
      last_error: '',
      docs_changed: base?.docs_changed ?? 0,
      docs_processed: base?.docs_processed ?? 0,
    };
    this.lastId = resume?.lastId;
  }

  get done(): Promise<void> {
    return this.#done;
  }

  get stopRequested(): boolean {
    return this.#stop;
  }

  start(db: Database, opts: ResyncOptions): void {
    db.setState('Resyncing');
    db.log.info({ resync_id: this.status.resync_id, resume_after: this.lastId ?? null }, 'resync started');
    this.#done = this.#run(db, opts);
  }

  requestStop(): void {
    this.#stop = true;
    if (this.status.status === 'running') this.status.status = 'stopping';
  }

  async #run(db: Database, opts: ResyncOptions): Promise<void> {
    // Let the request that started the run answer first.
    await Promise.resolve();
    try {
      const finished = await resyncDocuments(db, this, opts);
      this.status.status = finished ? 'completed' : 'stopped';
      db.log.info({ processed: this.status.docs_processed, changed: this.status.docs_changed, status: this.status.status }, 'resync finished');
    } catch (err) {
      if (db.closed) {
        this.status.status = 'stopped';
      } else {
        this.status.status = 'error';
        this.status.last_error = err instanceof Error ? err.message : String(err);
        db.log.error({ err }, 'resync failed');
      }
    } finally {
      if (db.state === 'Resyncing') db.setState('Offline');
    }
  }
}

const jobs = new WeakMap<Database, ResyncJob>();

const IDLE: Omit<ResyncStatus, 'resync_id'> = { status: 'completed', start_time: null, last_error: '', docs_changed: 0, docs_processed: 0 };

export function resyncStatus(db: Database): ResyncStatus {
  const job = jobs.get(db);
  return job ? { ...job.status } : { ...IDLE, resync_id: '' };
}

/**
 * Starts re-running the sync function over every document (`POST /{db}/_resync`). The database must be offline;
 * it is `Resyncing` until the run ends, then offline again. A stopped run resumes unless `reset` is given.
 */
export function startResync(db: Database, opts: ResyncOptions = {}): ResyncStatus {
  if (db.state === 'Resyncing') throw unavailable('Database _resync already in progress');
  if (db.state !== 'Offline' || db.closed) throw unavailable(`Database must be _offline before calling _resync, current state: ${db.state}`);
  const previous = jobs.get(db);
  const job = new ResyncJob(previous?.status.status === 'stopped' && opts.reset !== true ? previous : undefined);
  jobs.set(db, job);
  job.start(db, opts);
  return { ...job.status };
}

/** `POST /{db}/_resync?action=stop`: stops the run after the document in progress and waits for it. */
export async function stopResync(db: Database): Promise<ResyncStatus> {
  const job = jobs.get(db);
  if (db.state !== 'Resyncing' || !job) throw badRequest('Database _resync is not running');
  job.requestStop();
  await job.done;
  return { ...job.status };
}

/** Resolves when the current (or last) run has ended. */
export async function resyncFinished(db: Database): Promise<ResyncStatus> {
  const job = jobs.get(db);
  if (job) await job.done;
  return resyncStatus(db);
}

interface Progress {
  readonly status: ResyncStatus;
  lastId: string | undefined;
  readonly stopRequested: boolean;
}

/** Pages through every document in id order; returns false when stopped before the end. */
async function resyncDocuments(db: Database, job: Progress, opts: ResyncOptions): Promise<boolean> {
  for (;;) {
    await yieldToEventLoop();
    if (job.stopRequested || db.closed) return false;
    const after = job.lastId;
    const rows = await db.collection.scanMeta({ ...(after !== undefined ? { startKey: after } : {}), includeDeleted: true, limit: PAGE + 1 });
    const ids = rows.map((r) => r.id).filter((id) => id !== after).slice(0, PAGE);
    if (ids.length === 0) return true;
    const stored = await readManyImported(db, ids);
    const commits: DocumentCommit[] = [];
    let processedInPage = 0;
    for (const id of ids) {
      if (job.stopRequested || db.closed) break;
      const commit = planResync(db, toCurrent(id, stored.get(id)), opts);
      if (commit) commits.push(commit);
      processedInPage++;
    }
    const handled = ids.slice(0, processedInPage);
    const changed = await commitResync(db, commits);
    job.status.docs_changed += changed;
    const before = job.status.docs_processed;
    job.status.docs_processed += handled.length;
    if (handled.length > 0) job.lastId = handled[handled.length - 1];
    if (Math.floor(before / PROGRESS_EVERY) !== Math.floor(job.status.docs_processed / PROGRESS_EVERY)) {
      db.log.info({ processed: job.status.docs_processed, changed: job.status.docs_changed }, 'resync progress');
    }
    if (processedInPage < ids.length) return false;
  }
}

/** Commits the page's changes in one transaction; a document changed meanwhile is redone from a fresh read. */
async function commitResync(db: Database, commits: DocumentCommit[]): Promise<number> {
  if (commits.length === 0) return 0;
  const results = await db.collection.commitMany(commits);
  let changed = 0;
  let maxSeq = 0;
  for (const [i, result] of results.entries()) {
    if (result.ok) {
      changed++;
      maxSeq = Math.max(maxSeq, result.seq);
      continue;
    }
    const seq = await retryOne(db, commits[i]!.id);
    if (seq !== null) {
      changed++;
      maxSeq = Math.max(maxSeq, seq);
    }
  }
  if (maxSeq > 0) db.notifier.announce(maxSeq);
  return changed;
}

async function retryOne(db: Database, id: string): Promise<number | null> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const commit = planResync(db, toCurrent(id, await db.collection.get(id)), {});
    if (!commit) return null;
    const result = await db.collection.commit(commit);
    if (result.ok) return result.seq;
  }
  db.log.warn({ id }, 'resync skipped a document that kept changing');
  return null;
}

/**
 * Runs the sync function over the document's leaves as the admin, with oldDoc null, and plans a metadata-only
 * commit when the winner's channels or grants, or a conflict's channels, come out different. A revision the
 * function rejects is left in no channel and grants nothing (as Sync Gateway does during resync).
 */
export function planResync(db: Database, current: CurrentDoc, opts: ResyncOptions): DocumentCommit | null {
  const meta = current.meta;
  const stored = current.stored;
  if (!meta || !stored) return null;
  // A row written directly and not imported yet: its body is not the winner's; import handles it.
  if (needsImport(stored)) return null;
  const winnerContent = revisionContent(current, meta.rev);
  // A live winner whose body row is gone was deleted outside the gateway: import handles it.
  if (!winnerContent) return null;
  const winner = syncOrNothing(db, current.id, meta.rev, winnerContent);
  const leafChannels = new Map<string, readonly string[]>();
  for (const rev of leaves(meta.tree)) {
    if (rev === meta.rev) continue;
    const content = revisionContent(current, rev);
    leafChannels.set(rev, content ? syncOrNothing(db, current.id, rev, content).channels : storedChannelsOf(meta, rev));
  }
  const plan: ChannelPlan = { channels: winner.channels, leafChannels, grants: winnerGrantsOf(winner) };
  if (!opts.regenerateSequences && !channelsChanged(meta, channelFields(meta, plan, meta.seq))) return null;
  return resyncCommit(current.id, stored, meta, plan);
}

function syncOrNothing(db: Database, id: string, rev: string, content: RevisionContent): SyncResult {
  try {
    return runSync(db, syncDoc(id, rev, content), null, null);
  } catch (err) {
    if (!isSynclineError(err)) throw err;
    db.log.info({ id, rev, reason: err.reason }, 'resync: the sync function rejected a revision; it is left in no channel');
    return { channels: [], access: {}, roles: {}, warnings: [] };
  }
}

function resyncCommit(id: string, stored: StoredDoc, old: SyncMeta, plan: ChannelPlan): DocumentCommit {
  return {
    id,
    expectedBodyCas: stored.bodyCas,
    expectedMetaCas: stored.metaCas,
    body: undefined,
    build: (seq) => {
      const fields = channelFields(old, plan, seq);
      const meta: SyncMeta = { ...old, seq };
      delete meta.removed;
      delete meta.leafChannels;
      delete meta.access;
      delete meta.roles;
      delete meta.expiry;
      Object.assign(meta, fields);
      return {
        meta: serializeMeta(meta),
        change: { rev: old.rev, deleted: old.deleted, channels: fields.channels, removed: fields.removed ? Object.keys(fields.removed) : [] },
        deleted: old.deleted,
        grants: plan.grants ? grantsOf(plan.grants) : [],
      };
    },
  };
}
