import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRole, decodeUser, encodeRole, encodeUser, regrant, type RoleRecord, type UserRecord } from './records.ts';

const names = fc.uniqueArray(fc.constantFrom<string>('a', 'b', 'c', 'd', '__proto__', 'ü'), { maxLength: 5 });
const since = names.chain((ns) => fc.tuple(...ns.map(() => fc.nat(1000))).map((seqs) => Object.fromEntries(ns.map((n, i) => [n, seqs[i]!]))));
const revoked = names.chain((ns) =>
  fc.tuple(...ns.map(() => fc.tuple(fc.nat(1000), fc.nat(1000)))).map((pairs) => Object.fromEntries(ns.map((n, i) => [n, pairs[i]!] as const))),
);

describe('principal records', () => {
  it('round-trip users and roles with their revocation history and tombstones', () => {
    const user: UserRecord = {
      name: 'bob',
      email: 'bob@example.com',
      disabled: false,
      password_hash: 'scrypt$1024$8$1$c2FsdA==$a2V5a2V5a2V5a2V5a2V5aw==',
      admin_channels: { b: 4, a: 2 },
      admin_roles: { r: 3 },
      revoked_channels: { old: [1, 5] },
      revoked_roles: { gone: [2, 6] },
      session_uuid: 'u',
    };
    expect(decodeUser('k', encodeUser(user))).toEqual(user);
    const role: RoleRecord = { name: 'r', admin_channels: { x: 1 }, revoked_channels: { y: [1, 2] }, deleted_seq: 9 };
    expect(decodeRole('k', encodeRole(role))).toEqual(role);
    // Empty history is not stored, and decodes as absent.
    const plain = decodeUser('k', encodeUser({ ...user, revoked_channels: {}, revoked_roles: {} }));
    expect(plain.revoked_channels).toBeUndefined();
    expect(encodeRole({ name: 'r', admin_channels: {}, revoked_channels: {} })).toBe('{"name":"r","admin_channels":{}}');
  });

  it('refuses malformed history', () => {
    const base = { name: 'r', admin_channels: {} };
    expect(() => decodeRole('k', JSON.stringify({ ...base, revoked_channels: { y: [1] } }))).toThrow(/Corrupt/);
    expect(() => decodeRole('k', JSON.stringify({ ...base, revoked_channels: { y: 'x' } }))).toThrow(/Corrupt/);
    expect(() => decodeRole('k', JSON.stringify({ ...base, deleted_seq: '3' }))).toThrow(/Corrupt/);
    const user = { name: 'u', disabled: false, admin_channels: {}, admin_roles: {}, session_uuid: 's' };
    expect(() => decodeUser('k', JSON.stringify({ ...user, revoked_roles: [] }))).toThrow(/Corrupt/);
    expect(decodeUser('k', JSON.stringify(user))).toEqual(user);
  });

  it('regrant keeps standing grants, stamps new ones and records withdrawn ones', () => {
    fc.assert(
      fc.property(since, revoked, names, fc.integer({ min: 1001, max: 2000 }), (current, history, wanted, seq) => {
        // A name is never both granted and revoked.
        const cleanHistory = Object.fromEntries(Object.entries(history).filter(([n]) => !Object.hasOwn(current, n)));
        const { granted, revoked: after } = regrant(current, cleanHistory, wanted, seq);
        expect(Object.keys(granted).sort()).toEqual([...wanted].sort());
        for (const n of wanted) expect(granted[n]).toBe(Object.hasOwn(current, n) ? current[n] : seq);
        for (const n of Object.keys(after)) expect(wanted).not.toContain(n);
        for (const [n, s] of Object.entries(current)) if (!wanted.includes(n)) expect(after[n]).toEqual([s, seq]);
        for (const [n, span] of Object.entries(cleanHistory)) if (!wanted.includes(n)) expect(after[n]).toEqual(span);
        expect(Object.getPrototypeOf(after)).toBe(Object.prototype);
      }),
    );
  });
});
