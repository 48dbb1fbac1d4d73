import { IncomingMessage } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServerContext } from '../server-context.ts';
import { DATABASE_STATS, GLOBAL_STATS, REPLICATION_STATS, metricName, type StatName } from './definitions.ts';
import { expvarJson, type Expvar } from './expvar.ts';
import { takeSnapshot, type ServerSnapshot } from './snapshot.ts';

/** The listener a request arrived on. */
export type Api = 'public' | 'admin' | 'metrics';

let processRegistry: Registry | undefined;

/**
 * Node.js process metrics (CPU, memory, event loop, GC: prom-client's default metrics). They describe the
 * process, so servers started in the same process share one registry of them; collecting them starts
 * observers that live as long as the process, which are thus started once.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** The labels of an HTTP request: its method and the template of the route it matched (never the raw path). */
export interface RequestLabels {
  method: string;
  route: string;
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS']);
/** Server-level endpoints, by their one path segment. */
const TOP_LEVEL = new Set(['_all_dbs', '_expvar', '_metrics', '_cluster', '_ping', '_ready']);
/** Route templates matched by the database router (dispatch.ts), by request. */
const matchedRoutes = new WeakMap<IncomingMessage, string>();

/** The route label of a request that no route matched: any path, so that unknown URLs add no label values. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Records the database route a request matched (`path` as in routes.ts, after the database name). */
export function routeMatched(req: IncomingMessage, path: string): void {
  matchedRoutes.set(req, `/{db}/${path}`);
}

/**
 * Labels of a request with a bounded set of values: the database route recorded by routeMatched, else the
 * server-level endpoint (`/`, `/_all_dbs`, `/{db}/` ...), else `unmatched`. Unknown methods are `other`.
 */
export function requestLabels(req: IncomingMessage): RequestLabels {
  const method = req.method !== undefined && KNOWN_METHODS.has(req.method) ? req.method : 'other';
  const matched = matchedRoutes.get(req);
  if (matched !== undefined) return { method, route: matched };
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const segments = (q === -1 ? url : url.slice(0, q)).split('/').filter((s) => s !== '');
  let route = UNMATCHED_ROUTE;
  if (segments.length === 0) route = '/';
  else if (segments.length === 1) route = TOP_LEVEL.has(segments[0]!) ? `/${segments[0]!}` : segments[0]!.startsWith('_') ? UNMATCHED_ROUTE : '/{db}/';
  else if (segments.length === 2 && segments[1] === '_blipsync') route = '/{db}/_blipsync';
  return { method, route };
}

/** Labels of WebSocket upgrades for Couchbase Lite replication (blip-upgrade.ts). */
export const BLIPSYNC_REQUEST: RequestLabels = { method: 'GET', route: '/{db}/_blipsync' };

/** Duration buckets of HTTP requests, in seconds. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * One server's metrics, in a registry of its own (several servers can run in one process). Database and
 * resource figures are read from the databases when scraped; HTTP requests are counted as they finish.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #context: ServerContext;
  readonly #startedAt = process.hrtime.bigint();
  #pending: Promise<ServerSnapshot> | null = null;
  readonly #requests: Counter<'api' | 'method' | 'route' | 'status'>;
  readonly #durations: Histogram<'api' | 'method' | 'route' | 'status'>;

  constructor(context: ServerContext) {
    this.#context = context;
    const registers = [this.registry];
    new Gauge({ name: 'sgw_up', help: 'Always 1 while the server answers.', registers }).set(1);
    this.#requests = new Counter({
      name: 'syncline_http_requests_total',
      help: 'HTTP requests answered, by listener (public, admin, metrics), method, route template (/{db}/{doc} ...; unmatched for unknown URLs) and status class (2xx, 4xx, ...).',
      labelNames: ['api', 'method', 'route', 'status'],
      registers,
    });
    this.#durations = new Histogram({
      name: 'syncline_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by listener, method, route template and status class; streamed _changes feeds (continuous, longpoll with heartbeat) are left out.',
      labelNames: ['api', 'method', 'route', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    for (const def of GLOBAL_STATS) this.#register(def, [], (snapshot) => [[{}, def.value(snapshot)]]);
    for (const def of DATABASE_STATS) {
      this.#register(def, ['database'], (snapshot) => snapshot.databases.map((db) => [{ database: db.name }, def.value(db)]));
    }
    for (const def of REPLICATION_STATS) {
      this.#register(def, ['database', 'replication'], (snapshot) =>
        snapshot.databases.flatMap((db) => db.replications.map((r): [Record<string, string>, number | undefined] => [{ database: db.name, replication: r.id }, def.value(r)])),
      );
    }
  }

  /**
   * One snapshot serves every metric of a scrape: collectors start together and share the read in progress.
   */
  snapshot(): Promise<ServerSnapshot> {
    this.#pending ??= takeSnapshot(this.#context, this.#startedAt).finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  #register(def: StatName, labelNames: string[], values: (snapshot: ServerSnapshot) => Array<[Record<string, string>, number | undefined]>): void {
    const snapshot = () => this.snapshot();
    const config = { name: metricName(def), help: def.help, labelNames, registers: [this.registry] };
    if (def.type === 'counter') {
      new Counter({
        ...config,
        async collect() {
          const current = values(await snapshot());
          this.reset();
          for (const [labels, value] of current) if (value !== undefined) this.inc(labels, value);
        },
      });
    } else {
      new Gauge({
        ...config,
        async collect() {
          const current = values(await snapshot());
          this.reset();
          for (const [labels, value] of current) if (value !== undefined) this.set(labels, value);
        },
      });
    }
  }

  /**
   * Counts one answered request; `seconds` is undefined for streamed responses, whose duration is not timed.
   * `request` is the request (labelled by requestLabels) or its labels.
   */
  observeRequest(api: Api, status: number, seconds: number | undefined, request: IncomingMessage | RequestLabels): void {
    const { method, route } = request instanceof IncomingMessage ? requestLabels(request) : request;
    const labels = { api, method, route, status: `${Math.floor(status / 100)}xx` };
    this.#requests.inc(labels);
    if (seconds !== undefined) this.#durations.observe(labels, seconds);
  }

  /** `GET /_metrics`: the Prometheus text exposition of this server's and the process's metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    const merged = Registry.merge([processMetrics(), this.registry]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }

  /** `GET /_expvar`. */
  async expvar(): Promise<Expvar> {
    return expvarJson(await this.snapshot());
  }
}
