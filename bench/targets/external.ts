import { HttpClient } from '../http-client.ts';
import { waitForHttp } from './child-process.ts';
import type { HttpTarget } from './types.ts';

/** A server someone else started (BENCH_SYNCLINE_URL / BENCH_POUCHDB_URL); never stopped by us. */
export async function externalTarget(label: string, baseUrl: string): Promise<HttpTarget> {
  await waitForHttp(`${baseUrl}/`, undefined, 5000);
  const client = new HttpClient(baseUrl);
  return {
    label,
    description: `external server at ${baseUrl} (not started by the benchmark)`,
    client,
    stop() {
      client.close();
      return Promise.resolve();
    },
  };
}
