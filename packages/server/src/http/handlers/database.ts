import type { CompactionType } from '../../db/compactions.ts';
import { redactDatabaseConfig } from '../../config/redact.ts';
import { purge } from '../../db/purge.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import { badRequest } from '../../base/errors.ts';
import { readJson } from '../body.ts';
import type { Query } from '../query.ts';
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

/** `GET /{db}/_config`: secrets are shown as "xxxxx" unless `redact=false`, as in Sync Gateway. */
export const getConfig: Handler = async ({ db, query }) => {
  const config = { name: db.name, ...db.config };
  return { status: 200, json: query.string('redact') === 'false' ? config : redactDatabaseConfig(config) };
};

export const putConfig: Handler = async ({ server, db, req }) => {
  const body = await readJson(req);
  if (!isPlainObject(body)) throw badRequest('Database configuration must be a JSON object');
  const { name, ...config } = body;
  if (name !== undefined && name !== db.name) throw badRequest('Database name cannot be changed');
  await server.reconfigure(db.name, config);
  return { status: 201, json: { ok: true } };
};

/** `type` of `/{db}/_compact`: tombstone (the default, as in Sync Gateway) or attachment. */
function compactionType(query: Query): CompactionType {
  const type = query.string('type') || 'tombstone';
  if (type !== 'tombstone' && type !== 'attachment') throw badRequest("Unknown parameter for 'type'. Must be 'tombstone' or 'attachment'");
  return type;
}

/**
 * `POST /{db}/_compact?type=tombstone|attachment&action=start|stop`. A start runs the compaction to its end
 * and answers its final status (`completed`, or `stopped` when a stop came meanwhile); 503 while one of the
 * same type runs. Attachment compaction takes `dry_run=true` (count only); `reset` has nothing to reset here.
 */
export const compact: Handler = async ({ db, query }) => {
  const type = compactionType(query);
  const action = query.string('action') || 'start';
  if (action !== 'start' && action !== 'stop') throw badRequest("Unknown parameter for 'action'. Must be start or stop");
  if (action === 'stop') return { status: 200, json: db.compactions[type].stop() };
  if (type === 'tombstone') return { status: 200, json: await db.compactions.compactTombstones() };
  query.bool('reset');
  return { status: 200, json: await db.compactions.compactAttachments({ dryRun: query.bool('dry_run') }) };
};

/** `GET /{db}/_compact?type=tombstone|attachment`: status of the last (or current) run of that type. */
export const getCompact: Handler = async ({ db, query }) => ({ status: 200, json: db.compactions[compactionType(query)].status() });

export const ensureFullCommit: Handler = async ({ db }) => ({
  status: 201,
  json: { ok: true, instance_start_time: String((await db.info()).instance_start_time) },
});

export const purgeDocs: Handler = async ({ db, req }) => {
  const body = await readJson(req);
  if (!isPlainObject(body)) throw badRequest('Purge request must be a JSON object');
  return { status: 200, json: { purged: await purge(db, body) } };
};
