import { BlipConnection, type BlipCloseEvent } from '@syncline/protocol';
import WebSocket from 'ws';
import { ReplicationError } from '../replicator/errors.ts';
import { SUBPROTOCOLS, type Connector, type Session, type SessionHandlers } from './connector.ts';

export interface BasicAuth {
  username: string;
  password: string;
}

export interface WebSocketConnectorOptions {
  /** The remote database (`ws(s)://host/db` or `http(s)://host/db`); `/_blipsync` is appended if missing. */
  url: string;
  /** Basic credentials, sent only after a `WWW-Authenticate: Basic` challenge (as LiteCore's HTTPLogic). */
  auth?: BasicAuth | undefined;
  /** A session cookie (`SyncGatewaySession` value), sent with every attempt. */
  sessionCookie?: string | undefined;
  cookieName?: string | undefined;
  headers?: Record<string, string> | undefined;
}

/** `ws(s)://host/{db}/_blipsync` from the database URL. */
export function blipSyncUrl(dbUrl: string): string {
  const url = new URL(dbUrl);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/_blipsync') ? path : `${path}/_blipsync`;
  return url.toString();
}

interface Refusal {
  status: number;
  challenge: string | undefined;
}

const isBasicChallenge = (header: string | undefined): boolean => header !== undefined && /^\s*basic\b/i.test(header);

function openSocket(url: string, headers: Record<string, string>): Promise<{ ws: WebSocket } | { refused: Refusal }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [...SUBPROTOCOLS], { headers, perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    const onError = (err: Error): void => reject(new ReplicationError(0, `WebSocket connection failed: ${err.message}`, { cause: err }));
    ws.once('open', () => {
      ws.off('error', onError);
      resolve({ ws });
    });
    ws.once('unexpected-response', (_req, res) => {
      ws.off('error', onError);
      const challenge = res.headers['www-authenticate'];
      res.resume();
      resolve({ refused: { status: res.statusCode ?? 0, challenge: Array.isArray(challenge) ? challenge[0] : challenge } });
    });
    ws.once('error', onError);
  });
}

function attach(ws: WebSocket, handlers: SessionHandlers): Session {
  let closedResolve!: (event: BlipCloseEvent) => void;
  const closed = new Promise<BlipCloseEvent>((resolve) => (closedResolve = resolve));
  const connection = new BlipConnection({
    send: (frame) => {
      ws.send(frame, { binary: true });
      return true;
    },
    onRequest: (request) => handlers.onRequest(request),
    onClose: (event) => closedResolve(event),
    closeTransport: (code, reason) => ws.close(code, reason),
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      connection.close(1003, 'text frames are not allowed');
      return;
    }
    connection.receive(Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  });
  ws.on('close', (code, reason) => connection.transportClosed(code, reason.toString('utf8')));
  ws.on('error', () => connection.transportClosed(1006, 'socket error'));
  return { connection, protocol: ws.protocol, closed };
}

/**
 * Connects to `/{db}/_blipsync` offering `BLIP_3+CBMobile_3` and `BLIP_3+CBMobile_2`. The first attempt
 * carries no credentials; a 401 with a Basic challenge is retried once with Basic auth. Other refusals
 * reject with a ReplicationError carrying the HTTP status (401/403/404 are permanent).
 */
export function webSocketConnector(options: WebSocketConnectorOptions): Connector {
  const url = blipSyncUrl(options.url);
  return async (handlers) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.sessionCookie !== undefined) headers.Cookie = `${options.cookieName ?? 'SyncGatewaySession'}=${options.sessionCookie}`;
    let result = await openSocket(url, headers);
    if ('refused' in result && result.refused.status === 401 && options.auth && isBasicChallenge(result.refused.challenge)) {
      const token = Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64');
      result = await openSocket(url, { ...headers, Authorization: `Basic ${token}` });
    }
    if ('refused' in result) {
      const status = result.refused.status;
      throw new ReplicationError(status, `the server refused the WebSocket upgrade with HTTP ${status}`, {
        permanent: status === 401 || status === 403 || status === 404,
      });
    }
    return attach(result.ws, handlers);
  };
}
