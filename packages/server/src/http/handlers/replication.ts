import { badRequest } from '../../base/errors.ts';
import { checkDatabaseName } from '../../config/load.ts';
import { readJson } from '../body.ts';
import type { Handler, Reply, RequestContext } from '../route-types.ts';

/**
 * Server-to-server replication (admin API), after Sync Gateway's `_replication` / `_replicationStatus`
 * endpoints, plus Edge Server-style ad hoc `_replicate`.
 */

const objectBody = async (req: RequestContext['req']): Promise<Record<string, unknown>> => {
  const body = await readJson(req);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Body must be a JSON object');
  return body as Record<string, unknown>;
};

const idOf = (params: Record<string, string>): string => {
  const id = params.id;
  if (id === undefined || id === '') throw badRequest('Missing replication id');
  return id;
};

/** `GET /{db}/_replication/`: every replication definition by id. */
export const listReplications: Handler = async ({ db }) => ({ status: 200, json: await db.replications.list() });

/** `GET /{db}/_replication/{id}`. */
export const getReplication: Handler = async ({ db, params }) => ({ status: 200, json: await db.replications.get(idOf(params)) });

/** `PUT /{db}/_replication/{id}`: 201 when created, 200 when replaced. */
export const putReplication: Handler = async ({ db, params, req }) => {
  const created = await db.replications.put(idOf(params), await objectBody(req));
  return { status: created ? 201 : 200, json: { ok: true, id: idOf(params) } };
};

/** `DELETE /{db}/_replication/{id}`. */
export const deleteReplication: Handler = async ({ db, params }) => {
  await db.replications.delete(idOf(params));
  return { status: 200, json: { ok: true } };
};

/** `GET /{db}/_replicationStatus/`. */
export const listReplicationStatus: Handler = async ({ db }) => ({ status: 200, json: await db.replications.statuses() });

/** `GET /{db}/_replicationStatus/{id}`. */
export const getReplicationStatus: Handler = async ({ db, params }) => ({ status: 200, json: await db.replications.status(idOf(params)) });

/** `PUT /{db}/_replicationStatus/{id}?action=start|stop|reset`. */
export const putReplicationStatus: Handler = async ({ db, params, query }) => {
  const action = query.string('action');
  if (action === undefined) throw badRequest('Query parameter "action" is required (start, stop or reset)');
  return { status: 200, json: await db.replications.action(idOf(params), action) };
};

/** `POST /{db}/_replicate`: an ad hoc replication of this database (body: a replication definition). */
export const postDbReplicate: Handler = async ({ db, req }) => ({ status: 200, json: await db.replications.replicate(await objectBody(req)) });

const isUrl = (value: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(value);

/**
 * `POST /_replicate`: `source` and `target` name a local database and a remote URL (which way the documents
 * go); `bidirectional: true` makes it pushAndPull. The other options are those of a replication definition.
 */
export async function postServerReplicate(ctx: RequestContext): Promise<Reply> {
  const { source, target, bidirectional, ...rest } = await objectBody(ctx.req);
  if (typeof source !== 'string' || source === '') throw badRequest('source: required (a local database name or a remote database URL)');
  if (typeof target !== 'string' || target === '') throw badRequest('target: required (a local database name or a remote database URL)');
  if (rest.remote !== undefined || rest.direction !== undefined) throw badRequest('remote, direction: not used with source and target');
  if (bidirectional !== undefined && typeof bidirectional !== 'boolean') throw badRequest('bidirectional: must be a boolean');
  if (isUrl(source) === isUrl(target)) throw badRequest('source, target: one must be a local database name and the other a remote URL');
  const local = isUrl(source) ? target : source;
  try {
    checkDatabaseName(local);
  } catch (err) {
    throw badRequest(`${local === source ? 'source' : 'target'}: ${(err as Error).message}`);
  }
  const db = ctx.server.database(local);
  const direction = bidirectional === true ? 'pushAndPull' : local === source ? 'push' : 'pull';
  return { status: 200, json: await db.replications.replicate({ ...rest, remote: isUrl(source) ? source : target, direction }) };
}
