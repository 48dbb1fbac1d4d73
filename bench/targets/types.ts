import type { HttpClient } from '../http-client.ts';

/** A running CouchDB-compatible server the HTTP workloads talk to. */
export interface HttpTarget {
  readonly label: string;
  /** How it was started, for the report header. */
  readonly description: string;
  readonly client: HttpClient;
  /** Sync Gateway-style admin REST API (Syncline only; for an external server only when its URL is given). */
  readonly adminClient?: HttpClient;
  /** Metrics API base URL (`GET /_metrics`), when known (Syncline started by the benchmark). */
  readonly metricsUrl?: string;
  stop(): Promise<void>;
}
