import { STATUS_CODES, ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { DEFAULT_MAX_FRAME_BYTES } from '@syncline/protocol';
import { badRequest, methodNotAllowed, notFound, unavailable } from '../base/errors.ts';
import { keyed, ud, type Logger } from '../base/logger.ts';
import type { Database } from '../db/database.ts';
import {
  BlipSyncSession,
  negotiateSubprotocol,
  offeredSubprotocols,
  UNSUPPORTED_SUBPROTOCOL_MESSAGE,
  type CBMobileVersion,
} from '../replication/blip/index.ts';
import { checkBlipClientSync } from '../edge/client-sync.ts';
import type { ServerContext } from '../server-context.ts';
import { BLIPSYNC_REQUEST } from '../metrics/registry.ts';
import { authenticateRequest } from './authenticate.ts';
import { Query } from './query.ts';
import { errorReply } from './response.ts';

/**
 * The WebSocket upgrade for Couchbase Lite replication, `GET /{db}/_blipsync` on the public listener. Before
 * upgrading, the request is checked the way the REST API checks requests: unknown database 404, offline 503,
 * then authentication (authenticate.ts: Basic, session cookie, GUEST; a 401 carries the Basic challenge, which
 * Couchbase Lite waits for before sending credentials), then the subprotocol: the newest of
 * `BLIP_3+CBMobile_3` / `BLIP_3+CBMobile_2` the client offers. Each connection gets its own BLIP session;
 * a failure of one never touches the others.
 *
 * Lifecycle. `ws` answers the peer's pings. The server pings every connection each `replicator.ping_interval_secs`
 * and terminates one that has neither answered the previous ping nor had bytes flushed to it meanwhile (a
 * dead or silent peer); otherwise idle connections stay open. Memory: incoming messages are bounded by the
 * session's BLIP limits (from max_document_size / max_attachment_size), and the socket stops being read while
 * the peer does not read our frames or the session has too many requests in progress, so neither queued
 * replies nor running handlers grow without bound. `close()` (listener shutdown) closes every connection
 * with 1001 (going away), waits up to SHUTDOWN_GRACE_MS for the close handshakes and terminates the rest.
 */

/** Bytes written but not yet flushed to the socket above which the BLIP pump pauses until the socket drains. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** How long shutdown waits for peers to complete the WebSocket close handshake. */
const SHUTDOWN_GRACE_MS = 1_000;

export interface BlipUpgrades {
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Closes every replication connection with 1001 (going away) and waits briefly for the peers to answer
   * the close; connections still open after SHUTDOWN_GRACE_MS are terminated. New upgrades are refused.
   */
  close(): Promise<void>;
}

function splitPath(url: string): string[] {
  const q = url.indexOf('?');
  const raw = (q === -1 ? url : url.slice(0, q)).split('/').slice(1);
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  return raw.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw badRequest('Malformed percent-encoding in URL');
    }
  });
}

/** Answers the upgrade request with a plain HTTP response and closes the socket. */
function refuse(socket: Duplex, status: number, body: string, contentType: string, headers: Record<string, string | string[]> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', `Content-Type: ${contentType}`, `Content-Length: ${Buffer.byteLength(body)}`];
  for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

const toBytes = (data: RawData): Uint8Array =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data);

export function blipUpgrades(context: ServerContext, logger: Logger): BlipUpgrades {
  const log = keyed(logger, 'HTTP');
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: DEFAULT_MAX_FRAME_BYTES, handleProtocols: (offered) => negotiateSubprotocol(offered)?.name ?? false });
  /** Headers to add to a 101 response (a renewed session cookie), by request. */
  const extraHeaders = new WeakMap<IncomingMessage, string[]>();
  wss.on('headers', (headers, req) => {
    const extra = extraHeaders.get(req);
    if (extra) headers.push(...extra);
  });
  const sessions = new Set<BlipSyncSession>();
  let closing = false;

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, started: number): Promise<void> {
    const segments = splitPath(req.url ?? '/');
    if (segments.length !== 2 || segments[1] !== '_blipsync' || segments[0]!.startsWith('_')) throw notFound('unknown URL');
    if (req.method !== 'GET') throw methodNotAllowed();
    const name = segments[0]!;
    const db = context.database(name);
    if (db.state !== 'Online') throw unavailable(`Database "${name}" is offline`);
    const res = new ServerResponse(req);
    const abort = new AbortController();
    socket.once('close', () => abort.abort());
    let user;
    try {
      user = await authenticateRequest(
        { req, res, params: { db: name }, query: new Query(new URLSearchParams()), admin: false, server: context, db, signal: abort.signal, user: null },
        'required',
      );
    } catch (err) {
      const reply = errorReply(err, log);
      const headers: Record<string, string | string[]> = {};
      for (const [key, value] of Object.entries(res.getHeaders())) if (value !== undefined) headers[key] = Array.isArray(value) ? value : String(value);
      finish(socket, reply.status, JSON.stringify('json' in reply ? reply.json : {}), 'application/json', started, headers);
      return;
    }
    // Edge mode: enable_client_sync false refuses client replication altogether.
    checkBlipClientSync(db.config.enable_client_sync);
    const chosen = negotiateSubprotocol(offeredSubprotocols(req.headers['sec-websocket-protocol']));
    if (!chosen) {
      finish(socket, 400, UNSUPPORTED_SUBPROTOCOL_MESSAGE, 'text/plain; charset=utf-8', started);
      return;
    }
    const cookie = res.getHeader('Set-Cookie');
    if (cookie !== undefined) extraHeaders.set(req, (Array.isArray(cookie) ? cookie : [String(cookie)]).map((c) => `Set-Cookie: ${c}`));
    if (socket.destroyed) return;
    if (closing) throw unavailable('Server is shutting down');
    wss.handleUpgrade(req, socket, head, (ws) => {
      context.metrics.observeRequest('public', 101, (performance.now() - started) / 1000, req);
      if (closing) {
        ws.close(1001, 'server shutting down');
        return;
      }
      start(ws, socket, db, user.name, chosen.version);
    });
  }

  function finish(socket: Duplex, status: number, body: string, contentType: string, started: number, headers: Record<string, string | string[]> = {}): void {
    context.metrics.observeRequest('public', status, (performance.now() - started) / 1000, BLIPSYNC_REQUEST);
    refuse(socket, status, body, contentType, headers);
  }

  /** Live connections and what the heartbeat needs to know about each. */
  const live = new Map<WebSocket, Heartbeat>();
  const pingMs = context.config.replicator.ping_interval_secs * 1000;
  let pingTimer: NodeJS.Timeout | undefined;

  /**
   * One timer for all connections: a connection that has neither answered the last ping nor had a frame
   * flushed to it since (a peer that stopped reading) is terminated; the others get a new ping. A peer that
   * answers pings stays connected however long it is idle.
   */
  function heartbeat(): void {
    for (const [ws, beat] of live) {
      if (!beat.ponged && flushedBytes(beat.socket) === beat.flushedAtPing) {
        beat.log.info('replication peer did not answer a ping; dropping the connection');
        ws.terminate();
        continue;
      }
      beat.ponged = false;
      try {
        ws.ping();
      } catch {
        ws.terminate();
        continue;
      }
      // Taken after the ping, so that the ping itself does not count as the peer reading.
      beat.flushedAtPing = flushedBytes(beat.socket);
    }
  }

  function start(ws: WebSocket, socket: Duplex, db: Database, userName: string, version: CBMobileVersion): void {
    const sessionLog = keyed(logger, 'Sync', { db: db.name, user: ud(userName), protocol: `CBMobile_${version}` });
    let blocked = false;
    let busy = false;
    const net = socket as Socket;
    const beat: Heartbeat = { ponged: true, socket: net, flushedAtPing: flushedBytes(net), log: sessionLog };
    // Reading stops while the peer does not read our frames (so its requests cannot queue unbounded replies)
    // and while the session holds too many requests in progress.
    let paused = false;
    const updateReading = (): void => {
      const pause = blocked || busy;
      if (pause === paused || ws.readyState !== ws.OPEN) return;
      paused = pause;
      if (pause) ws.pause();
      else ws.resume();
    };
    const session = new BlipSyncSession({
      db,
      userName,
      version,
      log: sessionLog,
      compressionLevel: context.config.replicator.blip_compression,
      clientSync: db.config.enable_client_sync,
      transport: {
        beginBurst: () => socket.cork(),
        endBurst: () => socket.uncork(),
        send: (frame) => {
          ws.send(frame, { binary: true });
          if (!blocked && ws.bufferedAmount >= HIGH_WATER_BYTES) {
            blocked = true;
            updateReading();
          }
          return !blocked;
        },
        close: (code, reason) => {
          try {
            ws.close(code, reason);
          } catch {
            ws.terminate();
          }
        },
        setBusy: (value) => {
          busy = value;
          updateReading();
        },
      },
    });
    // A socket holding HIGH_WATER_BYTES has refused a write, so it emits 'drain' once flushed.
    net.on('drain', () => {
      if (!blocked) return;
      blocked = false;
      updateReading();
      session.resumeWriting();
    });
    sessions.add(session);
    live.set(ws, beat);
    pingTimer ??= setInterval(heartbeat, pingMs).unref();
    session.onClose(() => sessions.delete(session));
    session.onClose(db.stats.blipConnected());
    sessionLog.info('replication connection opened');
    ws.on('pong', () => {
      beat.ponged = true;
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        sessionLog.info('text WebSocket message on a BLIP connection; closing it');
        session.close(1003, 'BLIP takes binary messages only');
        return;
      }
      session.receive(toBytes(data));
    });
    ws.on('error', (err) => sessionLog.info({ err }, 'replication WebSocket error'));
    ws.on('close', (code, reason) => {
      live.delete(ws);
      if (live.size === 0 && pingTimer !== undefined) {
        clearInterval(pingTimer);
        pingTimer = undefined;
      }
      session.transportClosed(code, reason.toString());
      sessionLog.info({ code }, 'replication connection closed');
    });
  }

  return {
    handle(req, socket, head) {
      const started = performance.now();
      socket.on('error', () => socket.destroy());
      upgrade(req, socket, head, started).catch((err: unknown) => {
        const reply = errorReply(err, log);
        finish(socket, reply.status, JSON.stringify('json' in reply ? reply.json : {}), 'application/json', started);
      });
    },
    async close() {
      closing = true;
      if (pingTimer !== undefined) clearInterval(pingTimer);
      pingTimer = undefined;
      for (const session of [...sessions]) session.close(1001, 'server shutting down');
      // Give the close handshakes a moment (peers answer in a round trip), then drop what is left.
      const deadline = Date.now() + SHUTDOWN_GRACE_MS;
      while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Bytes the socket has handed to the network (`bytesWritten` also counts what is still buffered). */
function flushedBytes(socket: Socket): number {
  return socket.bytesWritten - socket.writableLength;
}

interface Heartbeat {
  /** A pong arrived since the last ping. */
  ponged: boolean;
  socket: Socket;
  /** Bytes handed to the network when the last ping went out: more since means the peer is reading. */
  flushedAtPing: number;
  log: Logger;
}
