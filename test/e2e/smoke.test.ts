import { describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server-process.ts';
import { getJson, putJson } from '../support/rest.ts';

describe('server process', () => {
  it('starts on the configured SQLite file and serves a document over the public and admin APIs', async () => {
    await using server = await startTestServer();
    expect((await getJson(`${server.url}/`)).body.couchdb).toBe('Welcome');
    const put = await putJson(`${server.url}/db/a`, { hello: 'world' });
    expect(put.status).toBe(201);
    const fromAdmin = await getJson(`${server.adminUrl}/db/a`);
    expect(fromAdmin.body).toMatchObject({ _id: 'a', _rev: put.body.rev, hello: 'world' });
  });
});
