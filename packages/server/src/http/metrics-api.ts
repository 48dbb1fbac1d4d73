import type { IncomingMessage, ServerResponse } from 'node:http';
import { methodNotAllowed, notFound } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import type { ServerContext } from '../server-context.ts';
import { metricsHandler, pingHandler } from './handlers/metrics.ts';
import { errorReply, sendReply } from './response.ts';
import type { Reply } from './route-types.ts';

async function route(server: ServerContext, req: IncomingMessage): Promise<Reply> {
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
  if (path !== '/_metrics' && path !== '/_ping') throw notFound('unknown URL');
  if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
  if (path === '/_ping') return pingHandler();
  return metricsHandler({ server });
}

/** Handles one request on the metrics listener: `GET /_metrics` and `GET /_ping`; anything else is a 404. */
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
  server.metrics.observeRequest('metrics', res.statusCode, (performance.now() - started) / 1000);
}
