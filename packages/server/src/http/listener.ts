import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
    const handled = api === 'metrics' ? dispatchMetricsApi(context, log, req, res) : dispatch(context, api === 'admin', log, req, res);
    handled.catch((err: unknown) => {
      log.error({ err }, 'request failed outside the error handler');
      res.destroy();
    });
  });
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
  const url = `http://${shownHost}:${bound.port}`;
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
