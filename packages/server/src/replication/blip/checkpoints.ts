import type { IncomingRequest } from '@syncline/protocol';
import { badRequest, isSynclineError, notFound, tooLarge } from '../../base/errors.ts';
import type { DbContext } from '../../db/context.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import { getLocal, putLocal } from '../../db/local-docs.ts';

/**
 * `getCheckpoint` / `setCheckpoint`: the client's checkpoint is a local (non-replicating) document
 * `checkpoint/<client>`, Sync Gateway's `_sync:local:checkpoint/<client>`, so it is also visible over REST as
 * `_local/checkpoint%2F<client>`. Revisions are the local documents' "0-N".
 */
const checkpointId = (rq: IncomingRequest): string => {
  const client = rq.properties.client;
  if (client === undefined || client === '') throw badRequest("Missing 'client' property");
  return `checkpoint/${client}`;
};

export async function handleGetCheckpoint(db: DbContext, rq: IncomingRequest): Promise<void> {
  const id = checkpointId(rq);
  let doc: Record<string, unknown>;
  try {
    doc = await getLocal(db, id);
  } catch (err) {
    if (isSynclineError(err) && err.status === 404) throw notFound('Not Found');
    throw err;
  }
  const { _id, _rev, ...body } = doc;
  rq.respond({ properties: { rev: String(_rev) }, body: JSON.stringify(body), compressed: true });
}

export async function handleSetCheckpoint(db: DbContext, rq: IncomingRequest): Promise<void> {
  const id = checkpointId(rq);
  if (rq.body.length > db.config.max_document_size) throw tooLarge(`Checkpoint is more than the limit of ${db.config.max_document_size} bytes`);
  let body: unknown;
  try {
    body = rq.bodyJSON();
  } catch {
    throw badRequest('Invalid JSON body');
  }
  if (!isPlainObject(body)) throw badRequest('Checkpoint must be a JSON object');
  const rev = rq.properties.rev;
  const { _rev, _id, ...checkpoint } = body;
  const saved = await putLocal(db, id, checkpoint, rev === undefined || rev === '' ? undefined : rev);
  rq.respond({ properties: { rev: saved.rev } });
}
