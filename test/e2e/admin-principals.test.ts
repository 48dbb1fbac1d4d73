import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, getJson, postJson, putJson, request, type JsonResponse, basicAuth } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

/** The admin API for users and roles: /{db}/_user/ and /{db}/_role/, with Sync Gateway's statuses. */

const SYNC = `function (doc) {
  channel(doc.channels);
  if (doc.grant) access(doc.grant.to, doc.grant.channels);
}`;

let server: TestServer;
let admin: string;

beforeAll(async () => {
  server = await startTestServer({ databases: { db: { sync: SYNC, users: {} } } });
  admin = `${server.adminUrl}/db`;
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});


function expectError(res: JsonResponse, status: number, reason: RegExp): void {
  expect({ status: res.status, reason: res.body?.reason as unknown }).toEqual({ status, reason: expect.stringMatching(reason) });
}

describe('users', () => {
  it('creates (201), updates (200), reads, lists and deletes users', async () => {
    const created = await putJson(`${admin}/_user/ann`, { password: 'annpass', admin_channels: ['x', 'y'], email: 'ann@example.com' });
    expect(created.status).toBe(201);
    expect(created.body).toBeUndefined();
    expect((await putJson(`${admin}/_user/ann`, { admin_channels: ['y', 'x'] })).status).toBe(200);
    expect((await putJson(`${admin}/_user/ann`, { admin_channels: ['x'] })).status).toBe(200);

    const got = await getJson(`${admin}/_user/ann`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      name: 'ann',
      email: 'ann@example.com',
      disabled: false,
      admin_channels: ['x'],
      admin_roles: [],
      all_channels: ['!', 'x'],
      roles: [],
    });
    expect(JSON.stringify(got.body)).not.toMatch(/password|scrypt|session/);
    // A GET body can be PUT back unchanged.
    expect((await putJson(`${admin}/_user/ann`, got.body)).status).toBe(200);

    const posted = await postJson(`${admin}/_user/`, { name: 'ben', password: 'benpass' });
    expect(posted.status).toBe(201);
    expectError(await postJson(`${admin}/_user/`, { name: 'ben', password: 'benpass' }), 409, /exists/);
    expectError(await postJson(`${admin}/_user/`, { password: 'benpass' }), 400, /Missing name/);
    expect((await getJson(`${admin}/_user/`)).body).toEqual(['ann', 'ben']);

    expect((await del(`${admin}/_user/ben`)).status).toBe(200);
    expect((await getJson(`${admin}/_user/ben`)).status).toBe(404);
    expect((await del(`${admin}/_user/ben`)).status).toBe(404);
    expect((await getJson(`${admin}/_user/`)).body).toEqual(['ann']);
    expect((await getJson(`${admin}/_user/nobody`)).status).toBe(404);
    expect((await getJson(`${admin}/_user/bad:name`)).status).toBe(404);
  });

  it('lets the new password in at once and the old one no more', async () => {
    await putJson(`${admin}/_user/cid`, { password: 'first' });
    expect((await request('GET', `${server.url}/db/`, undefined, basicAuth('cid', 'first'))).status).toBe(200);
    await putJson(`${admin}/_user/cid`, { password: 'second' });
    expect((await request('GET', `${server.url}/db/`, undefined, basicAuth('cid', 'first'))).status).toBe(401);
    expect((await request('GET', `${server.url}/db/`, undefined, basicAuth('cid', 'second'))).status).toBe(200);
    await del(`${admin}/_user/cid`);
    expect((await request('GET', `${server.url}/db/`, undefined, basicAuth('cid', 'second'))).status).toBe(401);
  });

  it('serves GUEST, which cannot be deleted or given a password', async () => {
    expect((await getJson(`${admin}/_user/GUEST`)).body).toEqual({
      name: 'GUEST', disabled: true, admin_channels: [], admin_roles: [], all_channels: ['!'], roles: [],
    });
    expectError(await del(`${admin}/_user/GUEST`), 405, /GUEST user cannot be deleted/);
    expectError(await putJson(`${admin}/_user/GUEST`, { password: 'secret' }), 400, /GUEST user cannot have a password/);
    expect((await getJson(`${admin}/_user/`)).body).not.toContain('GUEST');
  });

  it('refuses malformed user bodies with 400 and a reason', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['dan', 'not an object', /JSON object/],
      ['dan', [], /JSON object/],
      ['dan', { password: 'danpass', admin_channels: 'x' }, /"admin_channels" must be an array/],
      ['dan', { password: 'danpass', admin_channels: [1] }, /"admin_channels" must be an array/],
      ['dan', { password: 'danpass', admin_channels: ['no spaces'] }, /Invalid channel name/],
      ['dan', { password: 'danpass', admin_roles: ['a:b'] }, /Invalid role name/],
      ['dan', { password: 'danpass', admin_channel: ['x'] }, /Unknown property "admin_channel"/],
      ['dan', { password: 'danpass', disabled: 'yes' }, /"disabled" must be a boolean/],
      ['dan', { password: 'danpass', email: 'not-an-email' }, /Invalid email/],
      ['dan', { password: 'pw' }, /at least 3 characters/],
      ['dan', { password: 5 }, /"password" must be a string/],
      ['dan', {}, /Empty passwords/],
      ['dan', { name: 'eve', password: 'danpass' }, /Name mismatch/],
      ['dan', { password: 'danpass', jwt_issuer: 'x' }, /read-only/],
      ['a:b', { password: 'secret' }, /Invalid user name/],
      ['with,comma', { password: 'secret' }, /Invalid user name/],
      ['---', { password: 'secret' }, /Invalid user name/],
    ];
    for (const [name, body, reason] of cases) {
      const res = await request('PUT', `${admin}/_user/${encodeURIComponent(name)}`, typeof body === 'string' ? JSON.stringify(body) : body);
      expect({ name, body, status: res.status, error: res.body?.error as unknown }).toEqual({ name, body, status: 400, error: 'bad_request' });
      expectError(res, 400, reason);
    }
    expectError(await request('PUT', `${admin}/_user/dan`, '{"password": '), 400, /not valid JSON/);
    expectError(await request('PUT', `${admin}/_user/dan`, ''), 400, /empty/);
    expect((await request('PUT', `${admin}/_user/dan`, 'password=x', { 'Content-Type': 'text/plain' })).status).toBe(415);
    expect((await getJson(`${admin}/_user/dan`)).status).toBe(404);
  });
});

describe('roles', () => {
  it('creates (201), updates (200), reads, lists, deletes and purges roles', async () => {
    expect((await putJson(`${admin}/_role/editors`, { admin_channels: ['drafts'] })).status).toBe(201);
    expect((await putJson(`${admin}/_role/editors`, { admin_channels: ['drafts', 'review'] })).status).toBe(200);
    expect((await getJson(`${admin}/_role/editors`)).body).toEqual({ name: 'editors', admin_channels: ['drafts', 'review'], all_channels: ['!', 'drafts', 'review'] });
    expect((await postJson(`${admin}/_role/`, { name: 'readers' })).status).toBe(201);
    expectError(await postJson(`${admin}/_role/`, { name: 'readers' }), 409, /exists/);
    expect((await getJson(`${admin}/_role/`)).body).toEqual(['editors', 'readers']);

    expect((await del(`${admin}/_role/readers`)).status).toBe(200);
    expect((await getJson(`${admin}/_role/readers`)).status).toBe(404);
    expect((await del(`${admin}/_role/readers`)).status).toBe(404);
    expect((await getJson(`${admin}/_role/`)).body).toEqual(['editors']);
    expect((await getJson(`${admin}/_role/?deleted=true`)).body).toEqual(['editors', 'readers']);
    // A deleted role can be created again.
    expect((await putJson(`${admin}/_role/readers`, { admin_channels: ['news'] })).status).toBe(201);
    expect((await del(`${admin}/_role/readers?purge=true`)).status).toBe(200);
    expect((await getJson(`${admin}/_role/?deleted=true`)).body).toEqual(['editors']);
  });

  it('refuses malformed role bodies with 400 and a reason', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['r1', { admin_channels: 'x' }, /"admin_channels" must be an array/],
      ['r1', { password: 'secret' }, /Unknown property "password"/],
      ['r1', { admin_roles: ['x'] }, /Unknown property "admin_roles"/],
      ['r1', { name: 'r2' }, /Name mismatch/],
      ['r1', null, /JSON object/],
      ['a/b', {}, /Invalid role name/],
    ];
    for (const [name, body, reason] of cases) {
      expectError(await request('PUT', `${admin}/_role/${encodeURIComponent(name)}`, JSON.stringify(body)), 400, reason);
    }
    expect((await getJson(`${admin}/_role/r1`)).status).toBe(404);
  });
});

describe('access', () => {
  it('computes all_channels and roles from admin channels, roles and document grants', async () => {
    await putJson(`${admin}/_role/staff`, { admin_channels: ['internal'] });
    await putJson(`${admin}/_user/fay`, { password: 'faypass', admin_channels: ['own'], admin_roles: ['staff', 'missing'] });
    expect((await getJson(`${admin}/_user/fay`)).body).toMatchObject({
      admin_roles: ['missing', 'staff'],
      all_channels: ['!', 'internal', 'own'],
      roles: ['staff'],
    });

    expect((await putJson(`${admin}/grant-fay`, { channels: [], grant: { to: 'fay', channels: ['granted'] } })).status).toBe(201);
    expect((await putJson(`${admin}/grant-staff`, { channels: [], grant: { to: 'role:staff', channels: ['team'] } })).status).toBe(201);
    expect((await getJson(`${admin}/_user/fay`)).body.all_channels).toEqual(['!', 'granted', 'internal', 'own', 'team']);
    expect((await getJson(`${admin}/_role/staff`)).body.all_channels).toEqual(['!', 'internal', 'team']);

    // The user's session describes the same channels.
    const session = await request('GET', `${server.url}/db/_session`, undefined, basicAuth('fay', 'faypass'));
    expect(Object.keys(session.body.userCtx.channels as object).sort()).toEqual(['!', 'granted', 'internal', 'own', 'team']);

    expect((await del(`${admin}/_role/staff`)).status).toBe(200);
    expect((await getJson(`${admin}/_user/fay`)).body).toMatchObject({ all_channels: ['!', 'granted', 'own'], roles: [] });
  });
});
