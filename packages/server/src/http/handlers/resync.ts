import type { IncomingMessage } from 'node:http';
import { badRequest, unavailable } from '../../base/errors.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import { resyncStatus, startResync, stopResync } from '../../db/resync.ts';
import { readJson } from '../body.ts';
import type { Handler } from '../route-types.ts';

/** The JSON body of a request that may have none. */
async function optionalBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return {};
  const body = await readJson(req);
  if (!isPlainObject(body)) throw badRequest('Request body must be a JSON object');
  return body;
}

export const getResync: Handler = async ({ db }) => ({ status: 200, json: resyncStatus(db) });

/** `POST /{db}/_resync?action=start|stop[&regenerate_sequences=true][&reset=true]`. */
export const postResync: Handler = async ({ db, query, req }) => {
  const action = query.string('action') ?? 'start';
  if (action !== 'start' && action !== 'stop') throw badRequest("Unknown parameter for 'action'. Must be start or stop");
  if (action === 'stop') return { status: 200, json: await stopResync(db) };
  const body = await optionalBody(req);
  if (body.regenerate_sequences !== undefined && typeof body.regenerate_sequences !== 'boolean') {
    throw badRequest('regenerate_sequences must be a boolean');
  }
  const regenerateSequences = query.bool('regenerate_sequences') || body.regenerate_sequences === true;
  return { status: 200, json: startResync(db, { regenerateSequences, reset: query.bool('reset') }) };
};

/** `POST /{db}/_offline`: public requests and most admin ones then get 503 until `_online`. */
export const postOffline: Handler = async ({ db }) => {
  if (db.state !== 'Online') {
    throw unavailable(`Unable to take Database offline, database must be in Online state but was ${db.state}`);
  }
  db.setState('Offline');
  db.log.info('database taken offline');
  return { status: 200, json: { ok: true } };
};

/** `POST /{db}/_online`, optionally `{"delay": seconds}`. */
export const postOnline: Handler = async ({ db, req }) => {
  if (db.state === 'Online') return { status: 200, json: { ok: true } };
  if (db.state === 'Resyncing') throw unavailable('Database _resync is in progress, this may take some time, try again later');
  const body = await optionalBody(req);
  const delay = body.delay ?? 0;
  if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0) throw badRequest('delay must be a non-negative integer');
  const bringOnline = () => {
    if (db.state !== 'Offline') return;
    db.setState('Online');
    db.log.info('database online');
  };
  if (delay === 0) bringOnline();
  else setTimeout(bringOnline, delay * 1000).unref();
  return { status: 200, json: { ok: true } };
};
