import { X509Certificate } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
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
  /**
   * For `wss://`: the one certificate the server must present, as PEM text or as its SHA-256 fingerprint
   * (hex, colons optional, as `openssl x509 -fingerprint -sha256` or `syncline cert create` print it). The
   * connection is accepted exactly when the server's certificate is that one (self-signed or not, whatever
   * its names), and refused otherwise before anything is sent, as a permanent ReplicationError. Unset: the
   * usual verification against the system's CAs.
   */
  pinnedCert?: string | undefined;
}

/** The fingerprint a pin stands for: upper-case hex pairs joined by colons. */
export function pinnedFingerprint(pin: string): string {
  const text = pin.trim();
  if (text.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(text).fingerprint256;
  const hex = text.replace(/^sha-?256\s*(fingerprint)?\s*[=:]?\s*/i, '').replace(/[:\s]/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new TypeError('pinnedCert must be a PEM certificate or a SHA-256 fingerprint (64 hex digits)');
  return hex.toUpperCase().match(/../g)!.join(':');
}

/** The TLS failure of a pinned connection whose server presented another certificate. */
export class PinnedCertMismatchError extends Error {
  readonly code = 'ERR_PINNED_CERT_MISMATCH';
  constructor(
    readonly expected: string,
    readonly actual: string | undefined,
  ) {
    super(`the server's TLS certificate (SHA-256 ${actual ?? 'none'}) is not the pinned certificate (SHA-256 ${expected})`);
    this.name = 'PinnedCertMismatchError';
  }
}

type CreateConnection = (options: ConnectionOptions, done: (err: Error | null, socket?: Socket) => void) => undefined;

/**
 * A `createConnection` for `ws` that completes the TLS handshake, compares the server's certificate with the
 * pin and only then hands the socket to the HTTP client, so that no request byte reaches another server.
 */
function pinnedTlsConnection(fingerprint: string): CreateConnection {
  return (options, done) => {
    const servername = options.servername ?? (options.host && isIP(options.host) === 0 ? options.host : undefined);
    // `path` is the HTTP path here, but an IPC socket path to tls.connect (as ws's own tlsConnect, unset it).
    const socket: TLSSocket = tlsConnect({ ...options, path: undefined, ...(servername ? { servername } : {}), rejectUnauthorized: false } as ConnectionOptions);
    let settled = false;
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      socket.off('error', onError);
      if (err) {
        socket.destroy();
        done(err);
      } else {
        done(null, socket);
      }
    };
    const onError = (err: Error): void => settle(err);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw as Buffer | undefined;
      const actual = raw && raw.length > 0 ? new X509Certificate(raw).fingerprint256 : undefined;
      settle(actual === fingerprint ? null : new PinnedCertMismatchError(fingerprint, actual));
    });
    return undefined;
  };
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

function openSocket(url: string, headers: Record<string, string>, pin?: string): Promise<{ ws: WebSocket } | { refused: Refusal }> {
  return new Promise((resolve, reject) => {
    const secure = new URL(url).protocol === 'wss:';
    const tls = pin !== undefined && secure ? { createConnection: pinnedTlsConnection(pin) as never } : {};
    const ws = new WebSocket(url, [...SUBPROTOCOLS], { headers, perMessageDeflate: false, ...tls });
    ws.binaryType = 'nodebuffer';
    const onError = (err: Error): void =>
      reject(
        err instanceof PinnedCertMismatchError
          ? new ReplicationError(0, `TLS certificate pinning failed: ${err.message}`, { cause: err, permanent: true })
          : new ReplicationError(0, `WebSocket connection failed: ${err.message}`, { cause: err }),
      );
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
  const pin = options.pinnedCert === undefined ? undefined : pinnedFingerprint(options.pinnedCert);
  if (pin !== undefined && new URL(url).protocol !== 'wss:') throw new TypeError('pinnedCert applies to wss:// (or https://) URLs only');
  return async (handlers) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.sessionCookie !== undefined) headers.Cookie = `${options.cookieName ?? 'SyncGatewaySession'}=${options.sessionCookie}`;
    let result = await openSocket(url, headers, pin);
    if ('refused' in result && result.refused.status === 401 && options.auth && isBasicChallenge(result.refused.challenge)) {
      const token = Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64');
      result = await openSocket(url, { ...headers, Authorization: `Basic ${token}` }, pin);
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
