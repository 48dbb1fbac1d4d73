import { conflict, notFound } from '../../base/errors.ts';
import type { CommitResult, StoredDoc } from '../../storage/bucket.ts';
import type { DbContext } from '../context.ts';
import { toCurrent } from '../crud/current.ts';
import { needsImport, prepareImport, type ImportDecision } from './import-doc.ts';

export type ImportOutcome =
  | { kind: 'none' }
  | { kind: 'imported'; rev: string }
  | { kind: 'filtered'; reason?: string }
  | { kind: 'failed'; reason: string };

const MAX_ATTEMPTS = 20;
const REMEMBERED_REFUSALS = 10_000;

/**
 * Rows already found not importable, by the cas they had: the same row is not re-evaluated (nor re-logged and
 * re-counted) on every client read; a new app write gives it a new cas and a fresh look.
 */
const refusals = new WeakMap<DbContext, Map<string, { cas: number | null; outcome: ImportOutcome }>>();

function refusalOf(ctx: DbContext, stored: StoredDoc | null | undefined): ImportOutcome | undefined {
  if (!stored) return undefined;
  const known = refusals.get(ctx)?.get(stored.id);
  return known && known.cas === stored.bodyCas ? known.outcome : undefined;
}

function rememberRefusal(ctx: DbContext, stored: StoredDoc | null | undefined, outcome: ImportOutcome): void {
  if (!stored) return;
  let map = refusals.get(ctx);
  if (!map) refusals.set(ctx, (map = new Map()));
  if (map.size >= REMEMBERED_REFUSALS) map.delete(map.keys().next().value!);
  map.set(stored.id, { cas: stored.bodyCas, outcome });
}

function record(ctx: DbContext, id: string, decision: Exclude<ImportDecision, { kind: 'commit' | 'none' }>): ImportOutcome {
  if (decision.kind === 'filtered') {
    ctx.importStats.filtered++;
    ctx.importLog.info({ id, ...(decision.reason ? { reason: decision.reason } : {}) }, 'not imported: refused by the import filter');
    return decision;
  }
  ctx.importStats.failed++;
  ctx.importLog.warn({ id, reason: decision.reason }, 'import failed');
  return decision;
}

function imported(ctx: DbContext, id: string, rev: string, deleted: boolean, result: Extract<CommitResult, { ok: true }>): ImportOutcome {
  ctx.importStats.imported++;
  ctx.importLog.info({ id, rev, seq: result.seq, ...(deleted ? { deleted } : {}) }, 'imported');
  return { kind: 'imported', rev };
}

/**
 * Imports one document if its row was written outside the gateway, retrying from a fresh read when it changes
 * again meanwhile (the app's newest write wins the race; nothing is overwritten).
 */
export async function importDocument(ctx: DbContext, id: string, stored?: StoredDoc | null): Promise<ImportOutcome> {
  const started = performance.now();
  try {
    let state = stored;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = toCurrent(id, state === undefined ? await ctx.collection.get(id) : state);
      state = undefined;
      const known = refusalOf(ctx, current.stored);
      if (known) return known;
      const decision = prepareImport(ctx, current);
      if (decision.kind === 'none') return decision;
      if (decision.kind !== 'commit') {
        const outcome = record(ctx, id, decision);
        rememberRefusal(ctx, current.stored, outcome);
        return outcome;
      }
      const result = await ctx.collection.commit(decision.commit);
      if (result.ok) {
        ctx.notifier.announce(result.seq);
        return imported(ctx, id, decision.rev, decision.deleted, result);
      }
      ctx.importStats.casCancelled++;
    }
    return record(ctx, id, { kind: 'failed', reason: 'the document kept changing during import' });
  } finally {
    ctx.importStats.processingMs += performance.now() - started;
  }
}

/** Imports many documents: one read, one storage transaction, then those that raced a writer one at a time. */
export async function importDocuments(ctx: DbContext, ids: readonly string[]): Promise<ImportOutcome[]> {
  const started = performance.now();
  const unique = [...new Set(ids)];
  const stored = await ctx.collection.getMany(unique);
  const outcomes: ImportOutcome[] = new Array(unique.length);
  const batch: Array<{ index: number; decision: Extract<ImportDecision, { kind: 'commit' }> }> = [];
  const later: number[] = [];
  for (const [index, id] of unique.entries()) {
    const row = stored.get(id);
    const known = refusalOf(ctx, row);
    if (known) {
      outcomes[index] = known;
      continue;
    }
    try {
      const decision = prepareImport(ctx, toCurrent(id, row));
      if (decision.kind === 'commit') batch.push({ index, decision });
      else if (decision.kind === 'none') outcomes[index] = decision;
      else {
        outcomes[index] = record(ctx, id, decision);
        rememberRefusal(ctx, row, outcomes[index]);
      }
    } catch (err) {
      outcomes[index] = record(ctx, id, { kind: 'failed', reason: (err as Error).message });
    }
  }
  const results = batch.length > 0 ? await ctx.collection.commitMany(batch.map((b) => b.decision.commit)) : [];
  let maxSeq = 0;
  for (const [i, { index, decision }] of batch.entries()) {
    const result = results[i]!;
    if (result.ok) {
      maxSeq = Math.max(maxSeq, result.seq);
      outcomes[index] = imported(ctx, unique[index]!, decision.rev, decision.deleted, result);
    } else {
      ctx.importStats.casCancelled++;
      later.push(index);
    }
  }
  if (maxSeq > 0) ctx.notifier.announce(maxSeq);
  ctx.importStats.processingMs += performance.now() - started;
  for (const index of later) outcomes[index] = await importDocument(ctx, unique[index]!);
  return outcomes;
}

/**
 * On-demand import before a client reads or writes a document (as Sync Gateway does), so that nobody sees or
 * builds on a stale revision. Returns the document's current rows. A document the import filter refuses, or
 * that cannot be imported, is answered as absent: 404 `Not imported` for reads; writes get a conflict.
 */
export async function readImported(ctx: DbContext, id: string, purpose: 'read' | 'write' = 'read'): Promise<StoredDoc | null> {
  const stored = await ctx.collection.get(id);
  if (!ctx.sharedAccess || !needsImport(stored)) return stored;
  const outcome = await importDocument(ctx, id, stored);
  if (outcome.kind === 'filtered' || outcome.kind === 'failed') {
    if (purpose === 'read') throw notFound('Not imported');
    throw conflict(`Document "${id}" was changed directly in the database and not imported`);
  }
  return ctx.collection.get(id);
}

/** The same for many documents at once (bulk reads and writes). Documents that cannot be imported are left out of the map. */
export async function readManyImported(ctx: DbContext, ids: readonly string[]): Promise<Map<string, StoredDoc>> {
  const stored = await ctx.collection.getMany(ids);
  if (!ctx.sharedAccess) return stored;
  const pending = [...stored.values()].filter(needsImport).map((s) => s.id);
  if (pending.length === 0) return stored;
  await importDocuments(ctx, pending);
  const fresh = await ctx.collection.getMany(pending);
  for (const id of pending) {
    const doc = fresh.get(id);
    if (doc && !needsImport(doc)) stored.set(id, doc);
    else stored.delete(id);
  }
  return stored;
}
