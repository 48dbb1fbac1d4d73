import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCouchError } from '../support/couch-error.ts';
import { startTestServer } from '../support/server-process.ts';

/**
 * Random Authorization headers, session cookies and login bodies never crash the server or get past
 * authentication: every answer is 200 only with real credentials (or where GUEST may enter), else a 4xx with a
 * CouchDB error body, and the server keeps serving.
 */

const RUNS = 150;
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_612);
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

const name = fc.oneof(fc.constantFrom('alice', 'GUEST', 'nobody', '', 'al:ice', 'ALICE', 'alice\u0000'), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }));
const password = fc.oneof(fc.constantFrom('alicepass', 'wrong', '', 'alicepass:extra'), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }));

const authorization = fc.oneof(
  fc.tuple(name, password).map(([n, p]) => `Basic ${b64(`${n}:${p}`)}`),
  fc.tuple(name, password).map(([n, p]) => `basic   ${b64(`${n}:${p}`)}  `),
  fc.string({ maxLength: 30 }).map((s) => `Basic ${s}`),
  fc.string({ maxLength: 20 }).map((s) => `Basic ${b64(s)}`),
  fc.constantFrom('Basic', 'Basic ', 'Basic ====', 'Bearer abc.def.ghi', 'Digest x', '', ' ', 'Basic YWxpY2U6YWxpY2VwYXNz'),
  fc.string({ maxLength: 40 }),
);

const sessionValue = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 40, maxLength: 40 }),
  fc.string({ maxLength: 50 }),
  fc.constantFrom('', '""', '"abc"', '0'.repeat(40), 'x'.repeat(2000), '%00', ';', '=', 'a=b=c'),
);
const cookie = fc.oneof(
  sessionValue.map((v) => `SyncGatewaySession=${v}`),
  fc.tuple(sessionValue, sessionValue).map(([a, b]) => `other=1; SyncGatewaySession=${a}; SyncGatewaySession=${b}`),
  fc.string({ maxLength: 60 }),
  fc.constantFrom('SyncGatewaySession', 'SyncGatewaySession=; x', ';;;', '=', 'syncgatewaysession=abc'),
);

/** Header values fetch can send (no CR/LF/NUL, Latin-1 only). */
const sendable = (value: string) => [...value].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) <= 0xff && c !== '\u007f');

const target = fc.constantFrom(
  ['GET', '/db/'],
  ['GET', '/db/doc'],
  ['PUT', '/db/fuzz-doc'],
  ['GET', '/db/_changes?since=0&limit=1'],
  ['GET', '/db/_session'],
  ['POST', '/db/_session'],
  ['DELETE', '/db/_session'],
  ['GET', '/open/'],
  ['POST', '/open/_session'],
);

const loginBody = fc.oneof(
  fc.record({ name, password }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 30 }),
);

describe('random credentials', () => {
  it('get 200 or a 4xx CouchDB error, never a 5xx, and never crash the server', async () => {
    await using server = await startTestServer({
      databases: {
        db: { users: { alice: { password: 'alicepass', admin_channels: ['*'] } } },
        open: { users: { GUEST: { disabled: false, admin_channels: ['*'] } } },
      },
    });
    await fc.assert(
      fc.asyncProperty(
        target,
        fc.option(authorization, { nil: undefined }),
        fc.option(cookie, { nil: undefined }),
        loginBody,
        async ([method, path], auth, cookieHeader, body) => {
          const headers: Record<string, string> = { 'Content-Type': 'application/json' };
          if (auth !== undefined && sendable(auth)) headers['Authorization'] = auth;
          if (cookieHeader !== undefined && sendable(cookieHeader)) headers['Cookie'] = cookieHeader;
          const res = await fetch(`${server.url}${path}`, {
            method,
            headers,
            ...(method === 'GET' || method === 'DELETE' ? {} : { body: method === 'PUT' ? '{"x":1}' : body }),
          });
          const text = await res.text();
          const context = `${method} ${path} ${JSON.stringify(headers)} ${body} -> ${res.status} ${text.slice(0, 300)}`;
          expect(res.status, context).toBeLessThan(500);
          if (res.status >= 400) expect(isCouchError(JSON.parse(text)), context).toBe(true);
          const validBasic = headers['Authorization'] !== undefined && /^basic +YWxpY2U6YWxpY2VwYXNz *$/i.test(headers['Authorization']);
          const mayPass = validBasic || path.startsWith('/open/') || path.endsWith('_session') || method === 'DELETE';
          if (!mayPass) expect(res.status, context).not.toBe(200);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    expect((await fetch(`${server.url}/`)).status).toBe(200);
    expect((await fetch(`${server.url}/db/`, { headers: { Authorization: `Basic ${b64('alice:alicepass')}` } })).status).toBe(200);
    expect(server.process.exitCode).toBeNull();
  });
});
