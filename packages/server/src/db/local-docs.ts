import { badRequest, conflict, notFound } from '../base/errors.ts';
import type { DbContext } from './context.ts';
import { isPlainObject } from './crud/incoming.ts';

/**
 * `_local/` documents: per-database, not replicated, not in the changes feed. Used by replicators for
 * checkpoints. Their revisions are "0-N", incremented on each update.
 */
const key = (ctx: DbContext, id: string) => `local:${ctx.collection.name}:${id}`;

function checkLocalId(id: string): void {
  if (id.length === 0 || Buffer.byteLength(id) > 250) throw badRequest('Invalid local document id');
}

export async function getLocal(ctx: DbContext, id: string): Promise<Record<string, unknown>> {
  checkLocalId(id);
  const record = await ctx.bucket.getRecord(key(ctx, id));
  if (!record) throw notFound('missing');
  return { _id: `_local/${id}`, _rev: `0-${record.version}`, ...(JSON.parse(record.value) as Record<string, unknown>) };
}

function expectedVersion(rev: unknown): number {
  if (rev === undefined || rev === null) return 0;
  if (typeof rev !== 'string' || !/^0-[1-9][0-9]*$/.test(rev)) throw conflict();
  return Number(rev.slice(2));
}

export async function putLocal(ctx: DbContext, id: string, raw: unknown, queryRev?: string): Promise<{ id: string; rev: string }> {
  checkLocalId(id);
  if (!isPlainObject(raw)) throw badRequest('Document must be a JSON object');
  const { _id, _rev, _deleted, ...body } = raw;
  if (_id !== undefined && _id !== `_local/${id}`) throw badRequest('Document id does not match the URL');
  const rev = _rev ?? queryRev;
  if (_deleted === true) {
    await deleteLocal(ctx, id, typeof rev === 'string' ? rev : undefined);
    return { id: `_local/${id}`, rev: '0-0' };
  }
  for (const k of Object.keys(body)) if (k.startsWith('_')) delete body[k];
  const record = await ctx.bucket.setRecord(key(ctx, id), JSON.stringify(body), { expectedVersion: expectedVersion(rev), durable: false });
  if (!record) throw conflict();
  return { id: `_local/${id}`, rev: `0-${record.version}` };
}

export async function deleteLocal(ctx: DbContext, id: string, rev: string | undefined): Promise<void> {
  checkLocalId(id);
  const current = await ctx.bucket.getRecord(key(ctx, id));
  if (!current) throw notFound('missing');
  if (rev === undefined) throw conflict();
  const ok = await ctx.bucket.deleteRecord(key(ctx, id), { expectedVersion: expectedVersion(rev) });
  if (!ok) throw conflict();
}
