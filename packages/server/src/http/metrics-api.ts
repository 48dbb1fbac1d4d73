import type { IncomingMessage, ServerResponse } from 'node:http';
import { methodNotAllowed, notFound } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { checkReadiness } from '../metrics/readiness.ts';
import type { ServerContext } from '../server-context.ts';
import { metricsHandler, pingHandler } from './handlers/metrics.ts';
import { errorReply, sendReply } from './response.ts';
import type { Reply, RequestContext } from './route-types.ts';

/**
 * `GET /_ready` (metrics and admin APIs): 200 `{"ready": true}` when the storage of every online database answers,
 * else 503 `{"error": "service_unavailable", "reason": "storage of database X unreachable: ..."}`.
 */
export async function readyHandler({ server }: Pick<RequestContext, 'server'>): Promise<Reply> {
  const readiness = await checkReadiness(server);
  return readiness.ready ? { status: 200, json: { ready: true } } : { status: 503, json: { error: 'service_unavailable', reason: readiness.reason } };
}

async function route(server: ServerContext, req: IncomingMessage): Promise<Reply> {
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
  if (path !== '/_metrics' && path !== '/_ping' && path !== '/_ready') throw notFound('unknown URL');
  if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
  if (path === '/_ping') return pingHandler();
  if (path === '/_ready') return readyHandler({ server });
  return metricsHandler({ server });
}

/** Handles one request on the metrics listener: `GET /_metrics`, `GET /_ping` and `GET /_ready`; anything else is a 404. */
export async function dispatchMetricsApi(server: ServerContext, log: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  let reply: Reply;
  try {
    reply = await route(server, req);
  } catch (err) {
    reply = errorReply(err, log);
  }
  if (!req.complete) req.resume();
  sendReply(res, reply, req.method === 'HEAD');
  server.metrics.observeRequest('metrics', res.statusCode, (performance.now() - started) / 1000, req);
}
