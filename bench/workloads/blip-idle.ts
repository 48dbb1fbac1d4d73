/**
 * Server memory per idle continuous BLIP connection: N low-level connections (a `ws` socket and a
 * BlipConnection each, in the benchmark process) open a continuous `subChanges` on a small database, take
 * every revision (compressed both ways, so the server has allocated its deflater and inflater), wait for
 * "caught up" and then stay idle past the server's zlib release; the server's resident set size and V8 heap in use (`process_resident_memory_bytes`,
 * `nodejs_heap_size_used_bytes` of its `/_metrics`) are read before opening them and once they are all idle,
 * and the difference is divided by N. The server cannot be made to collect garbage, so each reading is the
 * lowest of a few samples taken over a second.
 */
import { BlipConnection } from '@syncline/protocol';
import WebSocket from 'ws';

export const IDLE_CONNECTIONS = 1_000;
/** Goal: the server holds less than this per idle continuous connection. */
export const IDLE_GOAL_BYTES = 100 * 1024;
const OPEN_BATCH = 50;
const SAMPLES = 5;
const SAMPLE_GAP_MS = 200;
const CAUGHT_UP_TIMEOUT_MS = 20_000;
/** Idle time before the reading: past the delay (0.5 s by default) after which a connection frees its deflater and inflater. */
const IDLE_SETTLE_MS = 6_000;

export interface IdleMemorySample {
  connections: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  /** Seconds to open all connections and see them caught up. */
  openSeconds: number;
}

interface ServerMemory {
  rss: number;
  heap: number;
}

async function readMemory(metricsUrl: string): Promise<ServerMemory> {
  const res = await fetch(`${metricsUrl}/_metrics`);
  if (res.status !== 200) throw new Error(`GET /_metrics: HTTP ${res.status}`);
  const text = await res.text();
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    const v = Number(line?.split(' ').pop());
    if (!Number.isFinite(v)) throw new Error(`/_metrics has no ${name}`);
    return v;
  };
  return { rss: value('process_resident_memory_bytes'), heap: value('nodejs_heap_size_used_bytes') };
}

/** The lowest readings over a second: the server's garbage is collected at its own pace. */
async function settledMemory(metricsUrl: string): Promise<ServerMemory> {
  let best: ServerMemory | undefined;
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, SAMPLE_GAP_MS));
    const m = await readMemory(metricsUrl);
    best = best === undefined ? m : { rss: Math.min(best.rss, m.rss), heap: Math.min(best.heap, m.heap) };
  }
  return best!;
}

interface IdlePeer {
  ws: WebSocket;
  caughtUp: Promise<void>;
}

/** Opens one socket, starts a continuous pull and resolves `caughtUp` at the server's empty `changes`. */
function openPeer(wsUrl: string): Promise<IdlePeer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, ['BLIP_3+CBMobile_3'], { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    let markCaughtUp: () => void = () => {};
    let failCaughtUp: (err: Error) => void = () => {};
    const caughtUp = new Promise<void>((res, rej) => {
      markCaughtUp = res;
      failCaughtUp = rej;
    });
    caughtUp.catch(() => undefined);
    const connection = new BlipConnection({
      send: (frame) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: true });
      },
      closeTransport: (code, reason) => ws.close(code, reason),
      onRequest: (rq) => {
        if (rq.profile === 'changes') {
          const rows: unknown = rq.bodyJSON();
          if (!Array.isArray(rows) || rows.length === 0) markCaughtUp();
          // Asks for every revision, as a new client does: the server sends compressed revs, and the
          // compressed answer gives the server an inflater too, as with a real client.
          if (!rq.noReply) rq.respond({ body: JSON.stringify(Array.isArray(rows) ? rows.map(() => []) : []), compressed: true });
          return;
        }
        if (!rq.noReply) rq.respond();
      },
    });
    ws.on('message', (data: Buffer) => connection.receive(data));
    ws.on('close', (code) => {
      connection.transportClosed(code, '');
      failCaughtUp(new Error(`connection closed (${code}) before catching up`));
    });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.on('error', () => undefined);
      connection.sendRequest({ profile: 'subChanges', properties: { continuous: 'true' } }).then(
        (reply) => {
          if (reply.error) failCaughtUp(new Error(`subChanges refused: ${reply.error.code} ${reply.error.message}`));
        },
        (err: unknown) => failCaughtUp(err instanceof Error ? err : new Error(String(err))),
      );
      resolve({ ws, caughtUp });
    });
  });
}

async function closeAll(peers: readonly IdlePeer[]): Promise<void> {
  await Promise.all(
    peers.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.ws.readyState === WebSocket.CLOSED) return resolve();
          p.ws.once('close', () => resolve());
          p.ws.close(1000);
          setTimeout(() => {
            p.ws.terminate();
            resolve();
          }, 5_000).unref();
        }),
    ),
  );
}

/** Measures the server's memory per idle continuous connection on `db` (an existing GUEST database with a few docs). */
export async function idleConnectionMemory(baseUrl: string, metricsUrl: string, db: string, count = IDLE_CONNECTIONS): Promise<IdleMemorySample> {
  const wsUrl = `${baseUrl.replace(/^http/, 'ws')}/${db}/_blipsync`;
  const before = await settledMemory(metricsUrl);
  const peers: IdlePeer[] = [];
  const started = performance.now();
  try {
    for (let i = 0; i < count; i += OPEN_BATCH) {
      const batch = await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, count - i) }, () => openPeer(wsUrl)));
      peers.push(...batch);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not every connection caught up within ${CAUGHT_UP_TIMEOUT_MS / 1000} s`)), CAUGHT_UP_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.all(peers.map((p) => p.caughtUp)), timeout]);
    } finally {
      clearTimeout(timer);
    }
    const openSeconds = (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const after = await settledMemory(metricsUrl);
    return { connections: count, rssBefore: before.rss, rssAfter: after.rss, heapBefore: before.heap, heapAfter: after.heap, openSeconds };
  } finally {
    await closeAll(peers);
  }
}
