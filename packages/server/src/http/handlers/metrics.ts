import type { Reply, RequestContext } from '../route-types.ts';

type Ctx = Pick<RequestContext, 'server'>;

/** `GET /_metrics` (metrics and admin APIs): Prometheus text format. */
export async function metricsHandler({ server }: Ctx): Promise<Reply> {
  const { contentType, body } = await server.metrics.render();
  return { status: 200, body, headers: { 'Content-Type': contentType } };
}

/** `GET /_expvar` (admin API): Sync Gateway's JSON statistics. */
export async function expvarHandler({ server }: Ctx): Promise<Reply> {
  return { status: 200, json: await server.metrics.expvar() };
}

/** `GET /_ping` (metrics API). */
export async function pingHandler(): Promise<Reply> {
  return { status: 200, body: 'OK', headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
}
