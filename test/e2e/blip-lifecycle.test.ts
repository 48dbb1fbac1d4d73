/**
 * Lifecycle of replication connections, as Sync Gateway handles them: the server pings every connection
 * (`replicator.ping_interval_secs`, short here), keeps idle continuous pulls that answer open indefinitely, drops a peer
 * that stops answering and releases its feed, and on SIGTERM (or an in-process stop) closes every BLIP
 * connection with 1001 (going away) and exits 0.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseServerConfig, startServer } from 'syncline';
import { createLogger } from '../../packages/server/src/base/logger.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, request } from '../support/rest.ts';
import { OPEN_GUEST, startTestServer, type TestServer } from '../support/server-process.ts';
import { type BlipTestClient, blipUrl, connectBlip, openSocket, until } from '../support/blip-client.ts';

const PING_SECS = 0.2;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ extra: { replicator: { ping_interval_secs: PING_SECS } }, logLevel: 'info' });
  const docs = Array.from({ length: 5 }, (_, i) => ({ _id: `seed-${i}`, channels: ['a'] }));
  expect((await request('POST', `${server.adminUrl}/db/_bulk_docs`, { docs })).status).toBe(201);
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

/** The number of continuous pull feeds the server is running for `db` (from /_metrics). */
async function activeContinuousPulls(): Promise<number> {
  const res = await fetch(`${server.metricsUrl}/_metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith('sgw_cbl_replication_pull_num_pull_repl_active_continuous{') && l.includes('database="db"'));
  return Number(line?.split(' ').pop() ?? Number.NaN);
}

async function continuousPull(client: BlipTestClient): Promise<void> {
  const reply = await client.request({ profile: 'subChanges', properties: { continuous: 'true' } });
  expect(reply.error).toBeUndefined();
  await until(() => client.caughtUp > 0, 'caught up');
}

describe('heartbeat', () => {
  it('keeps an idle continuous pull that answers pings open across many ping intervals', async () => {
    const client = await connectBlip(server.url, 'db');
    let pings = 0;
    client.ws.on('ping', () => pings++);
    await continuousPull(client);
    await until(() => pings >= 6, 'six server pings', 20_000);
    expect(client.closed).toBeUndefined();
    expect(client.connection.isOpen).toBe(true);
    const put = await request('PUT', `${server.url}/db/after-idle`, { channels: ['a'] });
    expect(put.status).toBe(201);
    await until(() => client.revsOf('after-idle').length > 0, 'a document written after the idle period');
    await client.close();
  });

  it('drops a peer that stops answering pings and ends its pull feed', async () => {
    const before = await activeContinuousPulls();
    const client = await connectBlip(server.url, 'db');
    await continuousPull(client);
    await eventually(async () => (await activeContinuousPulls()) === before + 1);
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    // The peer goes silent: it reads nothing more, so it answers no ping.
    socket.pause();
    await eventually(async () => server.output.some((l) => l.includes('did not answer a ping')), 20_000);
    await eventually(async () => (await activeContinuousPulls()) === before, 20_000);
    socket.resume();
    await until(() => client.closed !== undefined, 'the client to see the connection gone');
    expect(client.closed!.code).not.toBe(1000);
  });
});

describe('shutdown', () => {
  it('closes 200 continuous pulls with 1001 on SIGTERM and exits 0', async () => {
    const own = await startTestServer({ extra: { replicator: { ping_interval_secs: PING_SECS } }, logLevel: 'warn' });
    try {
      expect((await request('PUT', `${own.adminUrl}/db/one`, { channels: ['a'] })).status).toBe(201);
      const clients: BlipTestClient[] = [];
      for (let i = 0; i < 200; i += 20) {
        clients.push(...(await Promise.all(Array.from({ length: 20 }, () => connectBlip(own.url, 'db')))));
      }
      await Promise.all(clients.map((c) => c.request({ profile: 'subChanges', properties: { continuous: 'true' } })));
      await until(() => clients.every((c) => c.caughtUp > 0 && c.revs.length > 0), 'every pull caught up', 30_000);
      const code = await own.stop('SIGTERM');
      expect(code).toBe(0);
      await until(() => clients.every((c) => c.closed !== undefined), 'every client to see the close');
      const codes = new Map<number, number>();
      for (const c of clients) codes.set(c.closed!.code, (codes.get(c.closed!.code) ?? 0) + 1);
      expect(Object.fromEntries(codes)).toEqual({ 1001: 200 });
    } finally {
      await own[Symbol.asyncDispose]();
    }
  });

  it('closes every BLIP connection with 1001 when the server is stopped in-process', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncline-lifecycle-'));
    try {
      const config = parseServerConfig({
        interface: '127.0.0.1:0',
        adminInterface: '127.0.0.1:0',
        metricsInterface: null,
        databases: { db: { server: `sqlite:${join(dir, 'db.sqlite')}`, users: OPEN_GUEST } },
      });
      const running = await startServer(config, { logger: createLogger({ level: 'silent', keys: ['*'] }) });
      const clients = await Promise.all(Array.from({ length: 10 }, () => connectBlip(running.publicUrl, 'db')));
      await Promise.all(clients.map((c) => continuousPull(c)));
      await running.stop();
      await until(() => clients.every((c) => c.closed !== undefined), 'every client to see the close');
      expect(clients.map((c) => c.closed!.code)).toEqual(Array(10).fill(1001));
      const late = await openSocket(blipUrl(running.publicUrl, 'db')).catch(() => 'refused' as const);
      expect(late === 'refused' || 'refused' in late).toBe(true);
      if (late !== 'refused' && 'ws' in late) late.ws.terminate();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});


