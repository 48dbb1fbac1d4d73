/**
 * PouchDB Server peer for the benchmark: express@4 + express-pouchdb over
 * PouchDB's LevelDB adapter in a given directory, on a loopback port.
 *
 *   node --import tsx bench/peers/pouchdb-server.ts --port 5984 --dir /tmp/pouch
 *
 * (or PORT / POUCHDB_DIR in the environment). When spawned with an IPC
 * channel it exits as soon as the parent goes away, so it is never orphaned.
 */
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

type Handler = (...args: unknown[]) => void;
interface ExpressApp extends Handler {
  use(path: string, handler: unknown): void;
  listen(port: number, host: string, callback: () => void): Server;
}

const require = createRequire(import.meta.url);
const express = require('express') as () => ExpressApp;
const expressPouchdb = require('express-pouchdb') as (pouch: unknown, options: object) => Handler;
const PouchDB = require('pouchdb') as { defaults(options: object): unknown };

const { values } = parseArgs({
  options: { port: { type: 'string' }, dir: { type: 'string' } },
});
const port = Number(values.port ?? process.env['PORT']);
const dir = values.dir ?? process.env['POUCHDB_DIR'];
if (!Number.isInteger(port) || port <= 0 || !dir) {
  console.error('usage: pouchdb-server.ts --port N --dir DIR');
  process.exit(2);
}

const dataDir = path.resolve(dir);
mkdirSync(dataDir, { recursive: true });
// express-pouchdb writes config.json/log.txt relative to the working directory.
process.chdir(dataDir);

const LevelPouch = PouchDB.defaults({ prefix: dataDir + path.sep });
const app = express();
app.use(
  '/',
  expressPouchdb(LevelPouch, {
    mode: 'minimumForPouchDB',
    inMemoryConfig: true,
    logPath: path.join(dataDir, 'log.txt'),
  }),
);

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`pouchdb-server listening on http://127.0.0.1:${port} (data in ${dataDir})`);
});
server.keepAliveTimeout = 60_000;

function shutdown(): void {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (process.send) process.on('disconnect', shutdown);
