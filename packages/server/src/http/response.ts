import type { ServerResponse } from 'node:http';
import { isSynclineError } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import type { Reply } from './route-types.ts';

export function sendReply(res: ServerResponse, reply: Reply, head: boolean): void {
  if ('streamed' in reply) return;
  let payload: Buffer | string;
  const headers: Record<string, string> = { ...(reply.headers ?? {}) };
  if ('json' in reply) {
    payload = JSON.stringify(reply.json);
    headers['Content-Type'] ??= 'application/json';
  } else {
    payload = reply.body;
  }
  headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(head ? undefined : payload);
}

/** Maps any error to CouchDB's {"error","reason"}; unknown errors become a bare 500. */
export function errorReply(err: unknown, log: Logger): Reply & { status: number } {
  if (isSynclineError(err)) {
    const headers: Record<string, string> = {};
    return { status: err.status, json: { error: err.error, reason: err.reason }, headers };
  }
  log.error({ err }, 'unexpected error while handling request');
  return { status: 500, json: { error: 'internal_server_error', reason: 'Internal error' } };
}
