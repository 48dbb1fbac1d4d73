import { HttpClient } from '../http-client.ts';
import { waitForHttp } from './child-process.ts';
import type { HttpTarget } from './types.ts';

/** A server someone else started (BENCH_SYNCLINE_URL / BENCH_POUCHDB_URL); never stopped by us. */
export async function externalTarget(label: string, baseUrl: string, adminUrl?: string): Promise<HttpTarget> {
  await waitForHttp(`${baseUrl}/`, undefined, 5000);
  if (adminUrl) await waitForHttp(`${adminUrl}/`, undefined, 5000);
  const client = new HttpClient(baseUrl);
  const adminClient = adminUrl ? new HttpClient(adminUrl) : undefined;
  const admin = adminUrl ? `, admin API at ${adminUrl}` : '';
  return {
    label,
    description: `external server at ${baseUrl}${admin} (not started by the benchmark)`,
    client,
    ...(adminClient ? { adminClient } : {}),
    stop() {
      client.close();
      adminClient?.close();
      return Promise.resolve();
    },
  };
}
