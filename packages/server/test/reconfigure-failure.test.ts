import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/base/logger.ts';
import { parseServerConfig } from '../src/config/load.ts';
import { startServer } from '../src/server.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncline-reconfigure-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const json = (body: unknown) => ({ method: 'PUT', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });

describe('PUT /{db}/_config with a configuration that cannot be opened', () => {
  it('answers 400 naming the problem and keeps serving the database as it was', async () => {
    const server = `sqlite:${join(dir, 'db.sqlite')}`;
    const config = parseServerConfig({
      interface: '127.0.0.1:0',
      adminInterface: '127.0.0.1:0',
      metricsInterface: '',
      databases: { db: { server, sync: 'function (doc) { channel("kept"); }' } },
    });
    await using running = await startServer(config, { logger: createLogger({ level: 'silent' }) });
    const admin = running.adminUrl;
    expect((await fetch(`${admin}/db/before`, json({ v: 1 }))).status).toBe(201);

    const badSync = await fetch(`${admin}/db/_config`, json({ server, sync: 'function (doc) {' }));
    expect(badSync.status).toBe(400);
    expect(((await badSync.json()) as { reason: string }).reason).toMatch(/sync/);

    const badReplication = await fetch(`${admin}/db/_config`, json({ server, replications: { r: { remote: 'not a url', direction: 'push' } } }));
    expect(badReplication.status).toBe(400);
    expect(((await badReplication.json()) as { reason: string }).reason).toMatch(/remote/);

    // Still online, with its data and its previous sync function.
    expect((await fetch(`${admin}/db/before`)).status).toBe(200);
    expect((await fetch(`${admin}/db/after`, json({ v: 2 }))).status).toBe(201);
    const routed = (await (await fetch(`${admin}/db/_changes?filter=sync_gateway/bychannel&channels=kept`)).json()) as { results: Array<{ id: string }> };
    expect(routed.results.map((r) => r.id)).toEqual(['before', 'after']);
    const current = (await (await fetch(`${admin}/db/_config`)).json()) as { sync?: string };
    expect(current.sync).toContain('kept');
  });
});
