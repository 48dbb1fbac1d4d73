import { STATUS_CODES, ServerResponse, type IncomingMessage } from 'node:http';
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
import type { ServerContext } from '../server-context.ts';
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
 */

/** Frames written but not yet flushed to the socket before the BLIP pump pauses, and when it resumes. */
const HIGH_WATER_FRAMES = 64;
const LOW_WATER_FRAMES = 16;

export interface BlipUpgrades {
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every replication connection (listener shutdown). */
  close(): void;
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
    const chosen = negotiateSubprotocol(offeredSubprotocols(req.headers['sec-websocket-protocol']));
    if (!chosen) {
      finish(socket, 400, UNSUPPORTED_SUBPROTOCOL_MESSAGE, 'text/plain; charset=utf-8', started);
      return;
    }
    const cookie = res.getHeader('Set-Cookie');
    if (cookie !== undefined) extraHeaders.set(req, (Array.isArray(cookie) ? cookie : [String(cookie)]).map((c) => `Set-Cookie: ${c}`));
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      context.metrics.observeRequest('public', 101, (performance.now() - started) / 1000);
      start(ws, db, user.name, chosen.version);
    });
  }

  function finish(socket: Duplex, status: number, body: string, contentType: string, started: number, headers: Record<string, string | string[]> = {}): void {
    context.metrics.observeRequest('public', status, (performance.now() - started) / 1000);
    refuse(socket, status, body, contentType, headers);
  }

  function start(ws: WebSocket, db: Database, userName: string, version: CBMobileVersion): void {
    const sessionLog = keyed(logger, 'Sync', { db: db.name, user: ud(userName), protocol: `CBMobile_${version}` });
    let pending = 0;
    let blocked = false;
    const session = new BlipSyncSession({
      db,
      userName,
      version,
      log: sessionLog,
      transport: {
        send: (frame) => {
          pending++;
          ws.send(frame, { binary: true }, () => {
            pending--;
            if (blocked && pending <= LOW_WATER_FRAMES) {
              blocked = false;
              session.resumeWriting();
            }
          });
          if (pending >= HIGH_WATER_FRAMES) blocked = true;
          return !blocked;
        },
        close: (code, reason) => {
          try {
            ws.close(code, reason);
          } catch {
            ws.terminate();
          }
        },
      },
    });
    sessions.add(session);
    session.onClose(() => sessions.delete(session));
    sessionLog.info('replication connection opened');
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
    close() {
      for (const session of [...sessions]) session.close(1001, 'server shutting down');
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
