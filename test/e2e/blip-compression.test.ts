/**
 * `replicator.blip_compression`: revisions of 500 bytes or more go out compressed (LiteCore's rule), smaller
 * ones as they are; level 0 sends every revision uncompressed. Either way the client gets the same documents.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connectBlip, until, type BlipTestClient } from '../support/blip-client.ts';
import { request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const servers: TestServer[] = [];
const clients: BlipTestClient[] = [];

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of servers) await s[Symbol.asyncDispose]();
});

const BIG = { channels: ['*'], text: 'a sentence that repeats itself. '.repeat(40) };
const SMALL = { channels: ['*'], n: 1 };

async function pullBoth(level: number | undefined): Promise<BlipTestClient> {
  const server = await startTestServer(level === undefined ? {} : { extra: { replicator: { blip_compression: level } } });
  servers.push(server);
  for (const [id, body] of [['big', BIG], ['small', SMALL]] as const) {
    expect((await request('PUT', `${server.adminUrl}/db/${id}`, body)).status).toBe(201);
  }
  const client = await connectBlip(server.url, 'db');
  clients.push(client);
  expect((await client.request({ profile: 'subChanges' })).error).toBeUndefined();
  await until(() => client.revs.length === 2, 'both revisions');
  return client;
}

const byId = (client: BlipTestClient, id: string) => client.revs.find((r) => r.properties.id === id)!;

describe('compression of pulled revisions', () => {
  it('compresses revisions of 500 bytes or more by default, not smaller ones', async () => {
    const client = await pullBoth(undefined);
    expect(byId(client, 'big')).toMatchObject({ compressed: true, body: BIG });
    expect(byId(client, 'small')).toMatchObject({ compressed: false, body: SMALL });
  });

  it('sends everything uncompressed with replicator.blip_compression 0, and compresses at level 9 too', async () => {
    const off = await pullBoth(0);
    expect(byId(off, 'big')).toMatchObject({ compressed: false, body: BIG });
    const max = await pullBoth(9);
    expect(byId(max, 'big')).toMatchObject({ compressed: true, body: BIG });
  });
});
