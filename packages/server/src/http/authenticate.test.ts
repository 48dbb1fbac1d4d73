import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCredentials } from './authenticate.ts';
import { clearedSessionCookie, readCookie, sessionCookie } from './cookies.ts';

const req = (headers: Record<string, string>) => ({ headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) }) as unknown as IncomingMessage;
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('credentials of a request', () => {
  it('reads Basic credentials as Sync Gateway does', () => {
    expect(readCredentials(req({ Authorization: `Basic ${b64('ann:se:cret')}` })).basic).toEqual({ name: 'ann', password: 'se:cret' });
    expect(readCredentials(req({ Authorization: `basic ${b64('ann:')}` })).basic).toEqual({ name: 'ann', password: '' });
    expect(readCredentials(req({ Authorization: `Basic ${b64('ünï:pw')}` })).basic).toEqual({ name: 'ünï', password: 'pw' });
    for (const header of [`Basic ${b64(':pw')}`, `Basic ${b64('nocolon')}`, 'Basic', 'Basic !!!', 'Bearer abc', '']) {
      const credentials = readCredentials(req({ Authorization: header }));
      expect(credentials.basic).toBeUndefined();
      expect(credentials.provided).toBe(true);
    }
    expect(readCredentials(req({}))).toEqual({ basic: undefined, sessionId: undefined, provided: false });
  });

  it('reads the session cookie among others, ignoring an empty one', () => {
    expect(readCredentials(req({ Cookie: 'a=1; SyncGatewaySession=abc; b=2' })).sessionId).toBe('abc');
    expect(readCredentials(req({ Cookie: 'SyncGatewaySession="abc"' })).sessionId).toBe('abc');
    expect(readCredentials(req({ Cookie: 'SyncGatewaySession=' }))).toMatchObject({ sessionId: undefined, provided: false });
    expect(readCookie('x=1;SyncGatewaySession=first; SyncGatewaySession=second', 'SyncGatewaySession')).toBe('first');
    expect(readCookie('SyncGatewaySessionX=1', 'SyncGatewaySession')).toBeUndefined();
    expect(readCookie(undefined, 'SyncGatewaySession')).toBeUndefined();
  });

  it('never throws on any header', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (authorization, cookie) => {
        readCredentials(req({ Authorization: authorization, Cookie: cookie }));
        readCredentials(req({ Authorization: `Basic ${authorization}`, Cookie: `SyncGatewaySession=${cookie}` }));
      }),
    );
  });
});

describe('session cookies', () => {
  it('are scoped to the database path and HttpOnly', () => {
    const expires = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
    expect(sessionCookie('db', 'abc', expires)).toBe('SyncGatewaySession=abc; Path=/db; Expires=Wed, 02 Jan 2030 03:04:05 GMT; HttpOnly');
    expect(sessionCookie('a+b', 'abc', expires)).toContain('Path=/a+b;');
    expect(sessionCookie('a;b', 'abc', expires)).toContain('Path=/a%3Bb;');
    expect(clearedSessionCookie('db')).toBe('SyncGatewaySession=; Path=/db; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly');
  });
});
