import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/base/logger.ts';
import { parseServerConfig } from '../src/config/load.ts';
import { startServer } from '../src/server.ts';

describe('an offline database', () => {
  it('answers 503 service_unavailable until the admin API reconfigures it', async () => {
    const config = parseServerConfig({
      interface: '127.0.0.1:0',
      adminInterface: '127.0.0.1:0',
      metricsInterface: '127.0.0.1:0',
      // Unauthenticated public requests act as GUEST, disabled unless enabled.
      databases: { db: { server: 'sqlite::memory:', users: { GUEST: { disabled: false } } } },
    });
    await using server = await startServer(config, { logger: createLogger({ level: 'silent' }) });
    expect((await fetch(`${server.publicUrl}/db/`)).status).toBe(200);
    await server.context.database('db').close();
    const res = await fetch(`${server.publicUrl}/db/`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'service_unavailable', reason: 'Database "db" is offline' });
    const reopened = await fetch(`${server.adminUrl}/db/_config`, { method: 'PUT', body: JSON.stringify({ server: 'sqlite::memory:', users: { GUEST: { disabled: false } } }), headers: { 'Content-Type': 'application/json' } });
    expect(reopened.status).toBe(201);
    expect((await fetch(`${server.publicUrl}/db/`)).status).toBe(200);
  });
});
