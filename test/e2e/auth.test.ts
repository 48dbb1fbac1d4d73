import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, getJson, postJson, putJson, request, type JsonResponse, basicAuth } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

/**
 * Authentication on the public API (Sync Gateway's rules): Basic credentials, the SyncGatewaySession cookie,
 * the GUEST user, /{db}/_session, and admin-created sessions.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    databases: {
      // Declares users, so GUEST keeps its default: disabled.
      db: {
        roles: { staff: { admin_channels: ['s'] } },
        users: {
          alice: { password: 'alicepass', admin_channels: ['a'], admin_roles: ['staff'] },
          dora: { password: 'dorapass', disabled: true },
        },
      },
      open: { users: { GUEST: { disabled: false, admin_channels: ['public'] }, alice: { password: 'alicepass' } } },
      late: { users: {} },
      quiet: { users: {}, send_www_authenticate_header: false },
    },
    extra: { CORS: { origin: ['https://app.example', 'https://other.example'], login_origin: ['https://app.example'], headers: [], max_age: 0 } },
  });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

const cookie = (id: string) => ({ Cookie: `SyncGatewaySession=${id}` });
const get = (path: string, headers: Record<string, string> = {}) => request('GET', `${server.url}${path}`, undefined, headers);

function expect401(res: JsonResponse, reason: string, challenge: boolean): void {
  expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: { error: 'Unauthorized', reason } });
  expect(res.headers.get('www-authenticate')).toBe(challenge ? 'Basic realm="SyncGateway"' : null);
}

/** The SyncGatewaySession value of a Set-Cookie header. */
function sessionIdOf(res: JsonResponse): string {
  const header = res.headers.get('set-cookie') ?? '';
  const match = /^SyncGatewaySession=([0-9a-f]+);/.exec(header);
  if (!match) throw new Error(`no session cookie in ${JSON.stringify(header)}`);
  return match[1]!;
}

async function adminSession(db: string, body: unknown): Promise<JsonResponse> {
  return postJson(`${server.adminUrl}/${db}/_session`, body);
}

describe('Basic authentication', () => {
  it('lets an enabled user in with the right password', async () => {
    const root = await get('/db/', basicAuth('alice', 'alicepass'));
    expect(root.status).toBe(200);
    expect(root.body.db_name).toBe('db');
    const again = await get('/db/_all_docs', basicAuth('alice', 'alicepass'));
    expect(again.status).toBe(200);
  });

  it('refuses a wrong password, an unknown user and a disabled user with "Invalid login" and a Basic challenge', async () => {
    expect401(await get('/db/', basicAuth('alice', 'wrong')), 'Invalid login', true);
    expect401(await get('/db/', basicAuth('nobody', 'alicepass')), 'Invalid login', true);
    expect401(await get('/db/', basicAuth('dora', 'dorapass')), 'Invalid login', true);
    expect401(await get('/db/', basicAuth('GUEST', '')), 'Invalid login', true);
    // Wrong credentials are refused even where GUEST would be let in.
    expect401(await get('/open/', basicAuth('alice', 'wrong')), 'Invalid login', true);
    expect401(await request('PUT', `${server.url}/db/doc`, { a: 1 }, basicAuth('alice', 'wrong')), 'Invalid login', true);
  });
});

describe('GUEST', () => {
  it('is disabled by default: requests without credentials need a login, except the server root', async () => {
    expect401(await get('/db/'), 'Login required', true);
    expect401(await get('/db/some-doc'), 'Login required', true);
    expect401(await get('/db/_changes'), 'Login required', true);
    expect401(await request('PUT', `${server.url}/db/doc`, { a: 1 }), 'Login required', true);
    expect((await request('HEAD', `${server.url}/db/`)).status).toBe(401);
    expect((await get('/')).status).toBe(200);
    // A header that is not Basic does not log anyone in, and the refusal says so.
    expect401(await get('/db/', { Authorization: 'Bearer abc' }), 'Invalid login', true);
  });

  it('lets unauthenticated requests in when enabled, with its channels', async () => {
    expect((await get('/open/')).status).toBe(200);
    const session = await get('/open/_session');
    expect(session.body).toEqual({
      authentication_handlers: ['default', 'cookie'],
      ok: true,
      userCtx: { channels: { '!': 0, public: expect.any(Number) }, name: null },
    });
    // Non-Basic authorization is ignored in favour of GUEST, as Sync Gateway does.
    expect((await get('/open/', { Authorization: 'Bearer abc' })).status).toBe(200);
  });

  it('is enabled and disabled again through the admin API', async () => {
    expect401(await get('/late/'), 'Login required', true);
    expect((await putJson(`${server.adminUrl}/late/_user/GUEST`, { disabled: false, admin_channels: ['x'] })).status).toBe(200);
    expect((await get('/late/')).status).toBe(200);
    expect((await getJson(`${server.adminUrl}/late/_user/GUEST`)).body).toMatchObject({ name: 'GUEST', disabled: false, admin_channels: ['x'] });
    expect((await putJson(`${server.adminUrl}/late/_user/GUEST`, { disabled: true })).status).toBe(200);
    expect401(await get('/late/'), 'Login required', true);
  });

  it('leaves out the Basic challenge when send_www_authenticate_header is false', async () => {
    expect401(await get('/quiet/'), 'Login required', false);
    expect401(await get('/quiet/', basicAuth('nobody', 'pw1')), 'Invalid login', false);
  });
});

describe('/{db}/_session', () => {
  it('logs in with a JSON body, sets the session cookie, and the cookie logs later requests in', async () => {
    const login = await postJson(`${server.url}/db/_session`, { name: 'alice', password: 'alicepass' });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({
      authentication_handlers: ['default', 'cookie'],
      ok: true,
      userCtx: { channels: { '!': 0, a: expect.any(Number), s: expect.any(Number) }, name: 'alice' },
    });
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^SyncGatewaySession=[0-9a-f]{40}; Path=\/db; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT; HttpOnly$/);
    const expires = Date.parse(/Expires=([^;]+)/.exec(setCookie)![1]!);
    expect(expires).toBeGreaterThan(Date.now() + 23 * 3600 * 1000);
    const id = sessionIdOf(login);

    expect((await get('/db/', cookie(id))).status).toBe(200);
    expect((await get('/db/_session', cookie(id))).body.userCtx.name).toBe('alice');
    expect((await get('/db/_session')).body.userCtx).toEqual({ channels: { '!': 0 }, name: null });

    const logout = await request('DELETE', `${server.url}/db/_session`, undefined, cookie(id));
    expect(logout.status).toBe(200);
    expect(logout.headers.get('set-cookie')).toMatch(/^SyncGatewaySession=; Path=\/db; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly$/);
    expect401(await get('/db/', cookie(id)), 'Session Invalid', false);
    expect((await del(`${server.url}/db/_session`)).status).toBe(404);
  });

  it('accepts a form-encoded login and refuses bad credentials', async () => {
    const form = await request('POST', `${server.url}/db/_session`, 'name=alice&password=alicepass', {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(200);
    expect(form.body.userCtx.name).toBe('alice');
    expect((await get('/db/', cookie(sessionIdOf(form)))).status).toBe(200);

    expect401(await postJson(`${server.url}/db/_session`, { name: 'alice', password: 'nope' }), 'Invalid login', false);
    expect401(await postJson(`${server.url}/db/_session`, { name: 'nobody', password: 'nope' }), 'Invalid login', false);
    expect401(await postJson(`${server.url}/db/_session`, { name: 'dora', password: 'dorapass' }), 'Invalid login', false);
    expect401(await postJson(`${server.url}/db/_session`, {}), 'Invalid login', false);
    expect((await postJson(`${server.url}/db/_session`, { name: 5, password: 'x' })).status).toBe(400);
    expect((await request('POST', `${server.url}/db/_session`, '{nope')).status).toBe(400);
  });

  it('logs in as the Basic-authenticated user when the body names nobody', async () => {
    const res = await request('POST', `${server.url}/db/_session`, undefined, basicAuth('alice', 'alicepass'));
    expect(res.status).toBe(200);
    expect(res.body.userCtx.name).toBe('alice');
    expect((await get('/db/', cookie(sessionIdOf(res)))).status).toBe(200);
  });

  it('refuses cookie login and logout from origins that are not login origins', async () => {
    const other = await request('POST', `${server.url}/db/_session`, { name: 'alice', password: 'alicepass' }, { Origin: 'https://other.example' });
    expect(other.status).toBe(400);
    expect(other.body).toEqual({ error: 'bad_request', reason: 'No CORS' });
    const allowed = await request('POST', `${server.url}/db/_session`, { name: 'alice', password: 'alicepass' }, { Origin: 'https://app.example' });
    expect(allowed.status).toBe(200);
    expect((await request('DELETE', `${server.url}/db/_session`, undefined, { Origin: 'https://other.example', ...cookie(sessionIdOf(allowed)) })).status).toBe(400);
  });
});

describe('session cookies', () => {
  it('refuses forged, malformed and unknown cookies with "Session Invalid"', async () => {
    for (const value of ['0'.repeat(40), 'f'.repeat(40), 'garbage', '../../etc', '"quoted"', 'x'.repeat(5000)]) {
      expect401(await get('/db/', cookie(value)), 'Session Invalid', false);
      expect401(await get('/open/', cookie(value)), 'Session Invalid', false);
    }
    // _session itself ignores a bad cookie and describes GUEST.
    expect((await get('/open/_session', cookie('0'.repeat(40)))).body.userCtx.name).toBeNull();
    // Basic credentials win over a bad cookie.
    expect((await get('/db/', { ...basicAuth('alice', 'alicepass'), ...cookie('0'.repeat(40)) })).status).toBe(200);
    // Sessions belong to one database.
    const login = await postJson(`${server.url}/db/_session`, { name: 'alice', password: 'alicepass' });
    expect401(await get('/open/', cookie(sessionIdOf(login))), 'Session Invalid', false);
  });

  it('creates sessions with a TTL on the admin API, inspects and ends them', async () => {
    const before = Date.now();
    const created = await adminSession('db', { name: 'alice', ttl: 3600 });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ session_id: expect.stringMatching(/^[0-9a-f]{40}$/), expires: expect.any(String), cookie_name: 'SyncGatewaySession' });
    expect(created.body.expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const expires = Date.parse(created.body.expires as string);
    expect(expires).toBeGreaterThanOrEqual(before + 3599_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3601_000);

    const id = created.body.session_id as string;
    expect((await get('/db/', cookie(id))).status).toBe(200);
    const info = await getJson(`${server.adminUrl}/db/_session/${id}`);
    expect(info.body.userCtx).toMatchObject({ name: 'alice', channels: { a: expect.any(Number) } });
    expect((await get(`/db/_session/${id}`)).status).toBe(403);

    expect((await del(`${server.adminUrl}/db/_session/${id}`)).status).toBe(200);
    expect((await del(`${server.adminUrl}/db/_session/${id}`)).status).toBe(404);
    expect((await getJson(`${server.adminUrl}/db/_session/${id}`)).status).toBe(404);
    expect401(await get('/db/', cookie(id)), 'Session Invalid', false);
  });

  it('refuses bad admin session requests', async () => {
    for (const [body, status] of [
      [{}, 400],
      [{ name: 'GUEST' }, 400],
      [{ name: 'a:b' }, 400],
      [{ name: 7 }, 400],
      [{ name: 'nobody' }, 404],
      [{ name: 'alice', ttl: 0 }, 400],
      [{ name: 'alice', ttl: -5 }, 400],
      [{ name: 'alice', ttl: 'long' }, 400],
      [{ name: 'dora' }, 400],
      [[], 400],
    ] as const) {
      const res = await adminSession('db', body);
      expect({ body, status: res.status, error: typeof res.body?.reason }).toEqual({ body, status, error: 'string' });
    }
    expect((await getJson(`${server.adminUrl}/db/_session/nope`)).status).toBe(404);
  });

  it('expires sessions after their TTL', async () => {
    const { body } = await adminSession('db', { name: 'alice', ttl: 1 });
    await sleep(1300);
    expect401(await get('/db/', cookie(body.session_id as string)), 'Session Invalid', false);
  });

  it('re-sends the cookie when a request extends the session (sliding expiry)', async () => {
    const { body } = await adminSession('db', { name: 'alice', ttl: 10 });
    const id = body.session_id as string;
    const fresh = await get('/db/', cookie(id));
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('set-cookie')).toBeNull();
    // Past a tenth of the lifetime, and far enough that the cookie's whole-second Expires moves too.
    await sleep(1500);
    const extended = await get('/db/', cookie(id));
    expect(extended.status).toBe(200);
    const setCookie = extended.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(new RegExp(`^SyncGatewaySession=${id}; Path=/db; Expires=`));
    expect(Date.parse(/Expires=([^;]+)/.exec(setCookie)![1]!)).toBeGreaterThan(Date.parse(body.expires as string));
  });

  it('ends sessions when the password changes, the user is disabled, or all its sessions are deleted', async () => {
    const admin = `${server.adminUrl}/db`;
    expect((await putJson(`${admin}/_user/carol`, { password: 'carolpass' })).status).toBe(201);
    const login = async () => sessionIdOf(await postJson(`${server.url}/db/_session`, { name: 'carol', password: 'carolpass' }));

    const first = await login();
    // Putting the same password again keeps sessions.
    expect((await putJson(`${admin}/_user/carol`, { password: 'carolpass', email: 'carol@example.com' })).status).toBe(200);
    expect((await get('/db/', cookie(first))).status).toBe(200);
    expect((await putJson(`${admin}/_user/carol`, { password: 'newpass' })).status).toBe(200);
    expect401(await get('/db/', cookie(first)), 'Session Invalid', false);
    expect401(await get('/db/', basicAuth('carol', 'carolpass')), 'Invalid login', true);
    expect((await get('/db/', basicAuth('carol', 'newpass'))).status).toBe(200);
    await putJson(`${admin}/_user/carol`, { password: 'carolpass' });

    const [a, b] = [await login(), await login()];
    expect((await del(`${admin}/_user/carol/_session`)).status).toBe(200);
    expect401(await get('/db/', cookie(a)), 'Session Invalid', false);
    expect401(await get('/db/', cookie(b)), 'Session Invalid', false);
    expect((await del(`${admin}/_user/nobody/_session`)).status).toBe(404);

    const c = await login();
    const d = await login();
    expect((await del(`${admin}/_user/alice/_session/${c}`)).status).toBe(404);
    expect((await get('/db/', cookie(c))).status).toBe(200);
    expect((await del(`${admin}/_user/carol/_session/${c}`)).status).toBe(200);
    expect401(await get('/db/', cookie(c)), 'Session Invalid', false);

    expect((await putJson(`${admin}/_user/carol`, { disabled: true })).status).toBe(200);
    expect401(await get('/db/', cookie(d)), 'Session Invalid', false);
    expect401(await get('/db/', basicAuth('carol', 'carolpass')), 'Invalid login', true);
  });
});

describe('admin API', () => {
  it('needs no credentials and ignores any that are sent', async () => {
    expect((await getJson(`${server.adminUrl}/db/`)).status).toBe(200);
    expect((await request('GET', `${server.adminUrl}/db/`, undefined, basicAuth('alice', 'wrong'))).status).toBe(200);
    expect((await request('GET', `${server.adminUrl}/db/`, undefined, cookie('0'.repeat(40)))).status).toBe(200);
    expect((await putJson(`${server.adminUrl}/db/admin-doc`, { a: 1 })).status).toBe(201);
  });

  it('keeps the user and role API off the public listener', async () => {
    expect((await get('/db/_user/alice', basicAuth('alice', 'alicepass'))).status).toBe(403);
    expect((await get('/db/_role/', basicAuth('alice', 'alicepass'))).status).toBe(403);
  });
});
