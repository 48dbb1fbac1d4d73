import { VERSION } from '../../server-context.ts';
import type { ServerHandler } from '../route-types.ts';

export const serverInfo: ServerHandler = async ({ server, admin }) => ({
  status: 200,
  json: {
    couchdb: 'Welcome',
    vendor: { name: 'Syncline', version: VERSION },
    version: `Syncline/${VERSION}`,
    uuid: server.uuid,
    ...(admin ? { ADMIN: true } : {}),
  },
});

export const allDbs: ServerHandler = async ({ server }) => ({ status: 200, json: server.databaseNames() });
