import { compactAttachments } from '../../db/compact.ts';
import { purge } from '../../db/purge.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import { badRequest } from '../../base/errors.ts';
import { readJson } from '../body.ts';
import type { Handler, ServerHandler } from '../route-types.ts';

export const getDatabase: Handler = async ({ db }) => ({ status: 200, json: await db.info() });

export const createDatabase: ServerHandler = async ({ server, params, req }) => {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const config = hasBody ? await readJson(req) : {};
  await server.createDatabase(params.db!, config);
  return { status: 201, json: { ok: true } };
};

export const deleteDatabase: Handler = async ({ server, db }) => {
  await server.deleteDatabase(db.name);
  return { status: 200, json: { ok: true } };
};

export const getConfig: Handler = async ({ db }) => ({ status: 200, json: { name: db.name, ...db.config } });

export const putConfig: Handler = async ({ server, db, req }) => {
  const body = await readJson(req);
  if (!isPlainObject(body)) throw badRequest('Database configuration must be a JSON object');
  const { name, ...config } = body;
  if (name !== undefined && name !== db.name) throw badRequest('Database name cannot be changed');
  await server.reconfigure(db.name, config);
  return { status: 201, json: { ok: true } };
};

export const compact: Handler = async ({ db }) => {
  const removed = await compactAttachments(db);
  return { status: 202, json: { ok: true, attachments_removed: removed } };
};

export const ensureFullCommit: Handler = async ({ db }) => ({
  status: 201,
  json: { ok: true, instance_start_time: String((await db.info()).instance_start_time) },
});

export const purgeDocs: Handler = async ({ db, req }) => {
  const body = await readJson(req);
  if (!isPlainObject(body)) throw badRequest('Purge request must be a JSON object');
  return { status: 200, json: { purged: await purge(db, body) } };
};
