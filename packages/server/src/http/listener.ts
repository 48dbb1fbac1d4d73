import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../config/load.ts';
import { applyUsers, readUsersFile } from '../edge/users-file.ts';
import { keyed, type Logger } from '../base/logger.ts';
import type { Api } from '../metrics/registry.ts';
import type { ServerContext } from '../server-context.ts';
import { blipUpgrades } from './blip-upgrade.ts';
import { dispatch } from './dispatch.ts';
import { dispatchMetricsApi } from './metrics-api.ts';

/** Splits "host:port" or ":port" (all interfaces). */
export function parseInterface(value: string): { host: string | undefined; port: number } {
  const i = value.lastIndexOf(':');
  const host = i <= 0 ? undefined : value.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(value.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid interface "${value}": expected host:port`);
  return { host, port };
}

export interface Listener {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Starts one listener: the public or admin REST API, or the metrics API. */
export async function listen(context: ServerContext, address: string, api: Api, logger: Logger): Promise<Listener> {
  const log = keyed(logger, 'HTTP', { api });
  // Edge mode: the users file is in every database before clients can connect.
  if (api === 'public') await applyUsersFile(context, logger);
  const handler: RequestListener = (req, res) => {
    const handled = api === 'metrics' ? dispatchMetricsApi(context, log, req, res) : dispatch(context, api === 'admin', log, req, res);
    handled.catch((err: unknown) => {
      log.error({ err }, 'request failed outside the error handler');
      res.destroy();
    });
  };
  // `https` serves the public and admin APIs (and WSS replication) over TLS; the metrics API stays plain HTTP.
  const tls = api === 'metrics' ? undefined : context.config.https;
  const options = { keepAliveTimeout: 65_000, requestTimeout: 0 };
  const server: Server = tls ? createTlsServer(options, tls, handler) : createServer(options, handler);
  const upgrades = api === 'public' ? blipUpgrades(context, logger) : undefined;
  if (upgrades) server.on('upgrade', (req, socket, head: Buffer) => upgrades.handle(req, socket, head));
  const { host, port } = parseInterface(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? (bound.address === '::' ? '127.0.0.1' : `[${bound.address}]`) : bound.address === '0.0.0.0' ? '127.0.0.1' : bound.address;
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${bound.port}`;
  log.info({ url, address }, `${api} API listening`);
  return {
    server,
    url,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await upgrades?.close();
      await closed;
    },
  };
}

/** The certificate and key of `https`; an unreadable file is a configuration error naming its field. */
function readTlsFiles(tls: { tls_cert_path: string; tls_key_path: string }): { cert: Buffer; key: Buffer } {
  const read = (field: 'tls_cert_path' | 'tls_key_path'): Buffer => {
    try {
      return readFileSync(tls[field]);
    } catch (err) {
      throw new ConfigError(`https.${field}`, `cannot read ${tls[field]}: ${(err as Error).message}`);
    }
  };
  return { cert: read('tls_cert_path'), key: read('tls_key_path') };
}

/** An HTTPS server (typed as the HTTP server it behaves as); a bad certificate or key is a configuration error. */
function createTlsServer(options: object, tls: { tls_cert_path: string; tls_key_path: string }, handler: RequestListener): Server {
  const files = readTlsFiles(tls);
  try {
    return createHttpsServer<typeof IncomingMessage, typeof ServerResponse>({ ...options, ...files }, handler) as unknown as Server;
  } catch (err) {
    throw new ConfigError('https', `cannot use the certificate ${tls.tls_cert_path} and key ${tls.tls_key_path}: ${(err as Error).message}`);
  }
}

const usersApplied = new WeakSet<ServerContext>();

/** Applies the config's users file (edge mode) to every configured database, once per server. */
async function applyUsersFile(context: ServerContext, logger: Logger): Promise<void> {
  const file = context.config.users;
  if (file === undefined || usersApplied.has(context)) return;
  usersApplied.add(context);
  const users = await readUsersFile(file);
  for (const name of Object.keys(context.config.databases)) await applyUsers(context.database(name), users, logger);
}
