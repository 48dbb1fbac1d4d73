import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SYNC_FUNCTION, SyncFunction, SyncFunctionError, isDefaultSource } from './sync-function.ts';
import type { SyncUser } from './sync-function.ts';
import { toError } from './sync-result.ts';
import { SynclineError } from '../base/errors.ts';

const compiled: SyncFunction[] = [];
function compile(source: string, timeoutMs?: number): SyncFunction {
  const fn = SyncFunction.compile(source, { dbName: 'db', timeoutMs });
  compiled.push(fn);
  return fn;
}
afterAll(() => {
  for (const fn of compiled) fn.dispose();
});

const alice: SyncUser = { name: 'alice', channels: ['news', 'sports'], roles: ['editor'] };
const now = (): number => Math.floor(Date.now() / 1000);

describe('channel()', () => {
  it('collects strings and arrays, flattens nested arrays, ignores null and undefined', () => {
    const fn = compile('function (doc) { channel("a", ["b", ["c", ["d"]]], null, undefined, "a"); }');
    const r = fn.run({}, null, {}, null);
    expect(r.channels).toEqual(['a', 'b', 'c', 'd']);
    expect(r.warnings).toEqual([]);
    expect(r.rejection).toBeUndefined();
  });

  it('ignores non-string values with a warning', () => {
    const r = compile('function (doc) { channel(["x", 5, true, {a: 1}]); }').run({}, null, {}, null);
    expect(r.channels).toEqual(['x']);
    expect(r.warnings).toEqual([
      'channel() ignored a non-string value of type number',
      'channel() ignored a non-string value of type boolean',
      'channel() ignored a non-string value of type object',
    ]);
  });

  it('accepts Unicode letters, digits, the allowed punctuation, * and !', () => {
    const r = compile('function (doc) { channel(doc.channels); }').run(
      { channels: ['café', 'ключ', '東京', 'a-b+c=d/e_f.g@h', '123', '*', '!'] },
      null,
      {},
      null,
    );
    expect(r.rejection).toBeUndefined();
    expect(r.channels).toHaveLength(7);
  });

  it.each(['has space', 'semi;colon', 'a,b', '', 'a!', 'x*'])('rejects the illegal channel name %j', (name) => {
    const r = compile('function (doc) { channel(doc.ch); }').run({ ch: name }, null, {}, null);
    expect(r.rejection?.status).toBe(500);
    expect(r.rejection?.reason).toContain('Illegal channel name');
    expect(r.channels).toEqual([]);
  });
});

describe('access() and role()', () => {
  it('merges and dedupes grants per user and role', () => {
    const fn = compile(`function (doc) {
      access("bob", "a");
      access(["bob", "role:staff"], ["b", "a"]);
      access("carol", []);
      access([], "z");
      access(null, "z");
    }`);
    const r = fn.run({}, null, {}, null);
    expect(r.access).toEqual({ bob: ['a', 'b'], 'role:staff': ['b', 'a'] });
  });

  it('rejects illegal channel names in access grants', () => {
    const r = compile('function (doc) { access("bob", "no spaces"); }').run({}, null, {}, null);
    expect(r.rejection?.reason).toContain('Illegal channel name');
  });

  it('grants roles written role:name and ignores the others with a warning', () => {
    const fn = compile('function (doc) { role("bob", ["role:admin", "editor"]); role(["bob", "al"], "role:admin"); }');
    const r = fn.run({}, null, {}, null);
    expect(r.roles).toEqual({ bob: ['admin'], al: ['admin'] });
    expect(r.warnings).toEqual(['role() ignored "editor": role names must be written "role:name"']);
    expect(r.rejection).toBeUndefined();
  });

  it('keeps a grantee named __proto__ as a plain key', () => {
    const r = compile('function (doc) { access("__proto__", "x"); role("__proto__", "role:r"); }').run({}, null, {}, null);
    expect(Object.keys(r.access)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(r.access)).toBe(Object.prototype);
    expect(JSON.stringify(r.roles)).toBe('{"__proto__":["r"]}');
  });
});

describe('expiry()', () => {
  const fn = compile('function (doc) { expiry(doc.exp); }');
  const run = (exp: unknown) => fn.run({ exp }, null, {}, null);

  it('treats small numbers as an offset from now and large ones as absolute', () => {
    const before = now();
    expect(run(3600).expiry).toBeGreaterThanOrEqual(before + 3600);
    expect(run(3600).expiry).toBeLessThanOrEqual(now() + 3600);
    expect(run(30 * 24 * 3600).expiry).toBeGreaterThanOrEqual(before + 30 * 24 * 3600);
    expect(run(2_000_000_000).expiry).toBe(2_000_000_000);
  });

  it('accepts numeric strings and ISO-8601 dates', () => {
    expect(run('2000000000').expiry).toBe(2_000_000_000);
    expect(run('60').expiry).toBeGreaterThanOrEqual(now() + 59);
    expect(run('2033-05-18T03:33:20Z').expiry).toBe(2_000_000_000);
    expect(run('2033-05-18T05:33:20+02:00').expiry).toBe(2_000_000_000);
  });

  it('accepts a Date object', () => {
    const r = compile('function () { expiry(new Date(2000000000 * 1000)); }').run({}, null, {}, null);
    expect(r.expiry).toBe(2_000_000_000);
  });

  it('records nothing for 0 or null', () => {
    expect(run(0).expiry).toBeUndefined();
    expect(run(null)).toEqual({ channels: [], access: {}, roles: {}, warnings: [] });
  });

  it.each([-5, 'tomorrow', '2033-13-45T00:00:00Z', true, { a: 1 }, 2 ** 33])('ignores %j with a warning', (exp) => {
    const r = run(exp);
    expect(r.expiry).toBeUndefined();
    expect(r.rejection).toBeUndefined();
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^expiry\(\) ignored/);
  });
});

describe('require*()', () => {
  const fn = compile(`function (doc) {
    if (doc.user) requireUser(doc.user);
    if (doc.role) requireRole(doc.role);
    if (doc.access) requireAccess(doc.access);
    if (doc.admin) requireAdmin();
    channel("passed");
  }`);
  const run = (doc: Record<string, unknown>, user: SyncUser | null) => fn.run(doc, null, {}, user);
  const rejection = (reason: string) => ({ status: 403, reason });

  it('requireUser passes for a listed user, fails with "sg wrong user" otherwise', () => {
    expect(run({ user: ['bob', 'alice'] }, alice).channels).toEqual(['passed']);
    expect(run({ user: 'bob' }, alice).rejection).toEqual(rejection('sg wrong user'));
  });

  it('requireRole passes for any held role, with or without the role: prefix', () => {
    expect(run({ role: 'editor' }, alice).channels).toEqual(['passed']);
    expect(run({ role: ['x', 'role:editor'] }, alice).channels).toEqual(['passed']);
    expect(run({ role: 'admin' }, alice).rejection).toEqual(rejection('sg missing role'));
  });

  it('requireAccess passes for any accessible channel, the public channel or a * user', () => {
    expect(run({ access: ['weather', 'sports'] }, alice).channels).toEqual(['passed']);
    expect(run({ access: '!' }, alice).channels).toEqual(['passed']);
    expect(run({ access: 'weather' }, { ...alice, channels: ['*'] }).channels).toEqual(['passed']);
    expect(run({ access: 'weather' }, alice).rejection).toEqual(rejection('sg missing channel access'));
  });

  it('requireAdmin fails for any user', () => {
    expect(run({ admin: true }, alice).rejection).toEqual(rejection('sg admin required'));
  });

  it('everything passes for an admin write (user null)', () => {
    const r = run({ user: 'bob', role: 'admin', access: 'weather', admin: true }, null);
    expect(r.rejection).toBeUndefined();
    expect(r.channels).toEqual(['passed']);
  });
});

describe('throw() and errors', () => {
  it('maps {forbidden} to 403 and {unauthorized} to 401, dropping what was recorded', () => {
    const fn = compile('function (doc) { channel("a"); if (doc.f) throw({forbidden: "read only"}); throw({unauthorized: "log in"}); }');
    expect(fn.run({ f: 1 }, null, {}, null)).toEqual({
      channels: [],
      access: {},
      roles: {},
      rejection: { status: 403, reason: 'read only' },
      warnings: [],
    });
    expect(fn.run({}, null, {}, null).rejection).toEqual({ status: 401, reason: 'log in' });
  });

  it('turns other throws and runtime errors into a 500 with the message', () => {
    const fn = compile('function (doc) { if (doc.s) throw "plain string"; if (doc.e) throw new Error("custom"); doc.missing.x; }');
    expect(fn.run({ s: 1 }, null, {}, null).rejection).toEqual({ status: 500, reason: 'Exception in JS sync function: plain string' });
    expect(fn.run({ e: 1 }, null, {}, null).rejection?.reason).toContain('Error: custom');
    const r = fn.run({}, null, {}, null);
    expect(r.rejection?.status).toBe(500);
    expect(r.rejection?.reason).toMatch(/TypeError: cannot read property 'x' of undefined/);
  });

  it('toError maps rejections to SynclineErrors', () => {
    const cases = [
      [403, 'forbidden'],
      [401, 'unauthorized'],
      [500, 'internal_server_error'],
      [400, 'bad_request'],
    ] as const;
    for (const [status, name] of cases) {
      const err = toError({ status, reason: 'why' });
      expect(err).toBeInstanceOf(SynclineError);
      expect([err.status, err.error, err.reason]).toEqual([status, name, 'why']);
    }
  });
});

describe('inputs', () => {
  it('passes doc, oldDoc and meta through; deletions carry _deleted', () => {
    const fn = compile(`function (doc, oldDoc, meta) {
      if (doc._deleted) { channel("deleted"); return; }
      channel("new-" + doc.v, oldDoc === null ? "no-old" : "old-" + oldDoc.v, "meta-" + meta.xattrs.k);
    }`);
    expect(fn.run({ v: 2 }, { v: 1 }, { xattrs: { k: 'x' } }, null).channels).toEqual(['new-2', 'old-1', 'meta-x']);
    expect(fn.run({ v: 1 }, null, { xattrs: { k: 'y' } }, null).channels).toEqual(['new-1', 'no-old', 'meta-y']);
    expect(fn.run({ _id: 'd', _deleted: true }, { v: 1 }, {}, null).channels).toEqual(['deleted']);
  });

  it('refuses documents nested deeper than the limit with a 400', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = [deep];
    const r = compile('function (doc) { channel("x"); }').run({ deep }, null, {}, null);
    expect(r.rejection?.status).toBe(400);
  });
});

describe('language support', () => {
  it('has underscore as _', () => {
    const fn = compile(`function (doc) {
      _.each(doc.tags, function (t) { channel("tag-" + t); });
      if (_.contains(doc.tags, "b")) channel("has-b");
      channel(_.VERSION ? "underscore" : "none");
    }`);
    expect(fn.run({ tags: ['a', 'b'] }, null, {}, null).channels).toEqual(['tag-a', 'tag-b', 'has-b', 'underscore']);
  });

  it('runs ES5 code', () => {
    const fn = compile(`function (doc, oldDoc) {
      var i, out = [];
      for (i = 0; i < doc.n; i++) { out.push("c" + i); }
      channel(out);
    }`);
    expect(fn.run({ n: 3 }, null, {}, null).channels).toEqual(['c0', 'c1', 'c2']);
  });

  it('runs modern code: arrows, const, template literals, destructuring, optional chaining', () => {
    const fn = compile(`(doc, oldDoc) => {
      const { owner, tags = [] } = doc;
      tags.map((t) => \`\${owner}-\${t}\`).forEach((c) => channel(c));
      channel(oldDoc?.owner ?? "nobody");
    }`);
    expect(fn.run({ owner: 'al', tags: ['x', 'y'] }, null, {}, null).channels).toEqual(['al-x', 'al-y', 'nobody']);
  });
});

describe('compile', () => {
  it('names the database and the line of a syntax error', () => {
    let caught: unknown;
    try {
      SyncFunction.compile('function (doc) {\n  channel(doc.channels);\n  if (doc.x {\n}', { dbName: 'mydb' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SyncFunctionError);
    const err = caught as SyncFunctionError;
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/^sync function of database "mydb": SyntaxError at line 3: /);
  });

  it('refuses a source that is not a function, or more than one expression', () => {
    expect(() => SyncFunction.compile('42', { dbName: 'db' })).toThrow(/does not evaluate to a function/);
    expect(() => SyncFunction.compile('function () {}; channel("x")', { dbName: 'db' })).toThrow(SyncFunctionError);
  });

  it('recognizes the default function and runs it natively', () => {
    expect(DEFAULT_SYNC_FUNCTION).toBe('function (doc) { channel(doc.channels); }');
    expect(isDefaultSource('function(doc){channel(doc.channels)}')).toBe(true);
    expect(isDefaultSource('function (doc) {\n  channel(doc.channels);\n}\n')).toBe(true);
    expect(isDefaultSource('function (doc) { channel(doc.channel); }')).toBe(false);
    expect(compile(DEFAULT_SYNC_FUNCTION).isNative).toBe(true);
    expect(compile(DEFAULT_SYNC_FUNCTION).run({ channels: ['a', 'b'] }, null, {}, null).channels).toEqual(['a', 'b']);
  });
});
