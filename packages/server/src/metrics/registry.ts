import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServerContext } from '../server-context.ts';
import { DATABASE_STATS, GLOBAL_STATS, metricName, type StatName } from './definitions.ts';
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
  readonly #requests: Counter<'api' | 'status'>;
  readonly #durations: Histogram<'api'>;

  constructor(context: ServerContext) {
    this.#context = context;
    const registers = [this.registry];
    new Gauge({ name: 'sgw_up', help: 'Always 1 while the server answers.', registers }).set(1);
    this.#requests = new Counter({
      name: 'syncline_http_requests_total',
      help: 'HTTP requests answered, by listener (public, admin, metrics) and status class (2xx, 4xx, ...).',
      labelNames: ['api', 'status'],
      registers,
    });
    this.#durations = new Histogram({
      name: 'syncline_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by listener; streamed _changes feeds (continuous, longpoll with heartbeat) are left out.',
      labelNames: ['api'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    for (const def of GLOBAL_STATS) this.#register(def, [], (snapshot) => [[{}, def.value(snapshot)]]);
    for (const def of DATABASE_STATS) {
      this.#register(def, ['database'], (snapshot) => snapshot.databases.map((db) => [{ database: db.name }, def.value(db)]));
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

  /** Counts one answered request; `seconds` is undefined for streamed responses, whose duration is not timed. */
  observeRequest(api: Api, status: number, seconds: number | undefined): void {
    this.#requests.inc({ api, status: `${Math.floor(status / 100)}xx` });
    if (seconds !== undefined) this.#durations.observe({ api }, seconds);
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
