import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_SYNC_FUNCTION, SyncFunction } from './sync-function.ts';
import type { SyncUser } from './sync-function.ts';
import { isValidChannelName } from './channel-names.ts';

const native = SyncFunction.compile(DEFAULT_SYNC_FUNCTION, { dbName: 'db' });
const sandboxed = SyncFunction.compile(DEFAULT_SYNC_FUNCTION, { dbName: 'db', nativeDefault: false });
const busy = SyncFunction.compile(
  `function (doc, oldDoc, meta) {
    channel(doc.a, doc.b);
    access(doc.c, doc.d);
    role(doc.e, doc.f);
    expiry(doc.g);
    if (doc.h) requireUser(doc.h);
    if (doc.i) requireRole(doc.i);
    if (doc.j) requireAccess(doc.j);
    if (oldDoc && oldDoc.k) throw oldDoc.k;
    if (meta.l) requireAdmin();
  }`,
  { dbName: 'db' },
);
afterAll(() => {
  for (const fn of [native, sandboxed, busy]) fn.dispose();
});

const channelName = fc.oneof(
  fc.stringMatching(/^[-+=/_.@a-zA-Z0-9éж東]{1,12}$/),
  fc.constantFrom('*', '!', 'role:x', '', 'a b', 'x*'),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const channelValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    channelName,
    fc.constantFrom(null, undefined, 0, 1.5, true, {}),
    fc.array(tie('value'), { maxLength: 5 }),
  ),
})).value;

const extraFields = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
const doc = fc
  .tuple(extraFields, fc.option(channelValue, { nil: undefined }), fc.boolean())
  .map(([extra, channels, deleted]) => {
    const d: Record<string, unknown> = { ...extra };
    if (channels !== undefined) d.channels = channels;
    if (deleted) d._deleted = true;
    return d;
  });
const user: fc.Arbitrary<SyncUser | null> = fc.option(
  fc.record({
    name: fc.string({ maxLength: 6 }),
    channels: fc.array(channelName, { maxLength: 4 }),
    roles: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
  }),
);

describe('the native default sync function', () => {
  it('gives exactly the sandboxed result on random documents', () => {
    fc.assert(
      fc.property(doc, fc.option(doc), user, (d, old, u) => {
        expect(native.run(d, old, {}, u)).toEqual(sandboxed.run(d, old, {}, u));
      }),
      { numRuns: 400 },
    );
  });
});

describe('random JSON documents', () => {
  const field = fc.oneof(channelValue, fc.jsonValue({ maxDepth: 3 }));
  const busyDoc = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'z'), field);

  it('never crash the runner and always give a well-formed result', () => {
    fc.assert(
      fc.property(busyDoc, fc.option(busyDoc), busyDoc, user, (d, old, meta, u) => {
        const r = busy.run(d, old, meta, u);
        expect(r.warnings.every((w) => typeof w === 'string')).toBe(true);
        if (r.rejection) {
          expect([400, 401, 403, 500]).toContain(r.rejection.status);
          expect(typeof r.rejection.reason).toBe('string');
          expect(r.channels).toEqual([]);
          return;
        }
        expect(r.channels.every(isValidChannelName)).toBe(true);
        for (const granted of Object.values(r.access)) expect(granted.every(isValidChannelName)).toBe(true);
        for (const roles of Object.values(r.roles)) expect(roles.every(isValidChannelName)).toBe(true);
        if (r.expiry !== undefined) expect(Number.isInteger(r.expiry) && r.expiry > 0).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
