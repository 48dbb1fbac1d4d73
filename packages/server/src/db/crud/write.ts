import { readImported, readManyImported } from '../import/importer.ts';
import type { SynclineError } from '../../base/errors.ts';
import { conflict, isSynclineError } from '../../base/errors.ts';
import type { CommitResult } from '../../storage/bucket.ts';
import type { DbContext } from '../context.ts';
import { toCurrent } from './current.ts';
import { groupCommit } from './group-commit.ts';
import type { IncomingDoc } from './incoming.ts';
import { prepareWrite, type Prepared, type WriteOptions } from './prepare.ts';

export interface WriteResult {
  id: string;
  rev: string;
}

const MAX_ATTEMPTS = 20;

/** Writes one document, retrying from a fresh read when another writer changed it in between (CAS). */
export async function writeDocument(ctx: DbContext, incoming: IncomingDoc, opts: WriteOptions): Promise<WriteResult> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = toCurrent(incoming.id, await readImported(ctx, incoming.id, 'write'));
    const prepared = await prepareWrite(ctx, current, incoming, opts);
    if (prepared.kind === 'noop') return { id: incoming.id, rev: prepared.rev };
    let result: CommitResult;
    try {
      result = await groupCommit(ctx.collection, prepared.commit);
    } finally {
      ctx.blobPins.unpin(prepared.pins);
    }
    if (result.ok) {
      ctx.stats.docWrites++;
      ctx.stats.docWritesBytes += prepared.bytes;
      ctx.notifier.announce(result.seq);
      ctx.log.debug({ id: incoming.id, rev: prepared.rev, seq: result.seq }, 'saved revision');
      return { id: incoming.id, rev: prepared.rev };
    }
  }
  throw conflict('Document update conflict: too many concurrent writers');
}

export type BulkResult = WriteResult | { id: string; error: SynclineError };

function asError(err: unknown): SynclineError {
  if (isSynclineError(err)) return err;
  throw err;
}

/**
 * Writes many documents: one read for all, one storage transaction for all whose state was as read, then the
 * few that raced another writer (or repeat an id within the batch) one at a time.
 */
export async function writeDocuments(ctx: DbContext, docs: IncomingDoc[], opts: WriteOptions): Promise<BulkResult[]> {
  const stored = await readManyImported(ctx, [...new Set(docs.map((d) => d.id))]);
  const results: BulkResult[] = new Array(docs.length);
  const seen = new Set<string>();
  const batch: Array<{ index: number; prepared: Extract<Prepared, { kind: 'commit' }> }> = [];
  const later: number[] = [];

  for (const [index, doc] of docs.entries()) {
    if (seen.has(doc.id)) {
      later.push(index);
      continue;
    }
    seen.add(doc.id);
    try {
      const prepared = await prepareWrite(ctx, toCurrent(doc.id, stored.get(doc.id)), doc, opts);
      if (prepared.kind === 'noop') results[index] = { id: doc.id, rev: prepared.rev };
      else batch.push({ index, prepared });
    } catch (err) {
      results[index] = { id: doc.id, error: asError(err) };
    }
  }

  let committed: CommitResult[] = [];
  try {
    if (batch.length > 0) committed = await ctx.collection.commitMany(batch.map((b) => b.prepared.commit));
  } finally {
    for (const { prepared } of batch) ctx.blobPins.unpin(prepared.pins);
  }
  let maxSeq = 0;
  for (const [i, { index, prepared }] of batch.entries()) {
    const result = committed[i]!;
    if (result.ok) {
      ctx.stats.docWrites++;
      ctx.stats.docWritesBytes += prepared.bytes;
      maxSeq = Math.max(maxSeq, result.seq);
      results[index] = { id: docs[index]!.id, rev: prepared.rev };
    } else {
      later.push(index);
    }
  }
  if (maxSeq > 0) ctx.notifier.announce(maxSeq);

  for (const index of later.sort((a, b) => a - b)) {
    const doc = docs[index]!;
    try {
      results[index] = await writeDocument(ctx, doc, opts);
    } catch (err) {
      results[index] = { id: doc.id, error: asError(err) };
    }
  }
  return results;
}
