import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeAccess, roleJson, userJson, type AccessGrants } from './access.ts';
import type { RoleRecord, UserRecord } from './records.ts';

const channel = fc.constantFrom('a', 'b', 'c', 'd', '*', '!');
const roleName = fc.constantFrom('r1', 'r2', 'r3', 'r4');
const seq = fc.nat({ max: 100 });
const sinceMap = <K extends string>(keys: fc.Arbitrary<K>) => fc.dictionary(keys, seq, { maxKeys: 4 });

const user: fc.Arbitrary<UserRecord> = fc.record({
  name: fc.constant('u'),
  disabled: fc.boolean(),
  admin_channels: sinceMap(channel),
  admin_roles: sinceMap(roleName),
  session_uuid: fc.constant('s'),
});

const roles: fc.Arbitrary<Map<string, RoleRecord>> = fc
  .dictionary(roleName, sinceMap(channel), { maxKeys: 4 })
  .map((d) => new Map(Object.entries(d).map(([name, admin_channels]) => [name, { name, admin_channels }])));

const grants: fc.Arbitrary<AccessGrants> = fc.record({
  user: sinceMap(channel),
  roles: sinceMap(roleName),
  roleChannels: fc.dictionary(roleName, sinceMap(channel), { maxKeys: 4 }),
});

/** Reference model: enumerate every grant path explicitly, then keep the lowest sequence per channel. */
function model(u: UserRecord, rs: Map<string, RoleRecord>, g: AccessGrants) {
  const paths: Array<[string, number]> = [['!', 0], ...Object.entries(u.admin_channels), ...Object.entries(g.user)];
  const roleGrants = [...Object.entries(u.admin_roles), ...Object.entries(g.roles)].filter(([r]) => rs.has(r));
  for (const [r, roleSeq] of roleGrants) {
    const viaRole = [...Object.entries(rs.get(r)?.admin_channels ?? {}), ...Object.entries(g.roleChannels[r] ?? {})];
    for (const [c, s] of viaRole) paths.push([c, Math.max(roleSeq, s)]);
  }
  const lowest = (entries: Array<[string, number]>) => {
    const out = new Map<string, number>();
    for (const [k, s] of entries) out.set(k, Math.min(s, out.get(k) ?? Infinity));
    return out;
  };
  return { channels: lowest(paths), roles: lowest(roleGrants) };
}

function mergeMin(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, s] of Object.entries(b)) out[k] = Math.min(s, out[k] ?? s);
  return out;
}

const sorted = (m: Map<string, number>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

describe('computeAccess', () => {
  it('is the union of all grant paths, lowest sequence winning', () => {
    fc.assert(
      fc.property(user, roles, grants, (u, rs, g) => {
        const got = computeAccess(u, rs, g);
        const want = model(u, rs, g);
        expect(sorted(got.channels)).toEqual(sorted(want.channels));
        expect(sorted(got.roles)).toEqual(sorted(want.roles));
      }),
    );
  });

  it('always grants the public channel since 0', () => {
    fc.assert(fc.property(user, roles, grants, (u, rs, g) => computeAccess(u, rs, g).channels.get('!') === 0));
  });

  it('only grows (and only gets earlier) when grants are added', () => {
    fc.assert(
      fc.property(user, roles, grants, grants, (u, rs, g1, g2) => {
        const roleKeys = new Set([...Object.keys(g1.roleChannels), ...Object.keys(g2.roleChannels)]);
        const merged: AccessGrants = {
          user: mergeMin(g1.user, g2.user),
          roles: mergeMin(g1.roles, g2.roles),
          roleChannels: Object.fromEntries(
            [...roleKeys].map((r) => [r, mergeMin(g1.roleChannels[r] ?? {}, g2.roleChannels[r] ?? {})]),
          ),
        };
        const after = computeAccess(u, rs, merged).channels;
        for (const [c, s] of computeAccess(u, rs, g1).channels) expect(after.get(c)).toBeLessThanOrEqual(s);
      }),
    );
  });

  it('forgets a deleted role and every channel reachable only through it', () => {
    fc.assert(
      fc.property(user, roles, grants, roleName, (u, rs, g, deleted) => {
        const without = new Map(rs);
        without.delete(deleted);
        const access = computeAccess(u, without, g);
        expect(access.roles.has(deleted)).toBe(false);
        const otherPaths = model(u, without, g).channels;
        expect(sorted(access.channels)).toEqual(sorted(otherPaths));
        for (const [c, s] of access.channels) expect(s).toBeGreaterThanOrEqual(computeAccess(u, rs, g).channels.get(c) ?? 0);
      }),
    );
  });

  it('dates a channel reached through a role from when both the role and its channel were granted', () => {
    const u: UserRecord = { name: 'u', disabled: false, admin_channels: { a: 50 }, admin_roles: { r: 10 }, session_uuid: 's' };
    const rs = new Map([['r', { name: 'r', admin_channels: { a: 3, b: 20 } }]]);
    const access = computeAccess(u, rs, { user: { c: 7 }, roles: { r: 40, ghost: 1 }, roleChannels: { r: { d: 5 } } });
    expect(Object.fromEntries(access.channels)).toEqual({ '!': 0, a: 10, b: 20, c: 7, d: 10 });
    expect(Object.fromEntries(access.roles)).toEqual({ r: 10 });
  });

  it('is not fooled by a channel named __proto__', () => {
    const u: UserRecord = JSON.parse('{"name":"u","disabled":false,"admin_channels":{"__proto__":4},"admin_roles":{},"session_uuid":"s"}');
    expect(computeAccess(u, new Map()).channels.get('__proto__')).toBe(4);
  });
});

describe('REST views', () => {
  it('shows a user without secrets, with sorted channel and role lists', () => {
    const u: UserRecord = {
      name: 'bob',
      email: 'bob@example.com',
      disabled: false,
      password_hash: 'scrypt$secret',
      admin_channels: { z: 1, a: 2 },
      admin_roles: { r2: 1, r1: 1, gone: 1 },
      session_uuid: 'token',
    };
    const rs = new Map<string, RoleRecord>([['r1', { name: 'r1', admin_channels: { m: 1 } }], ['r2', { name: 'r2', admin_channels: {} }]]);
    const json = userJson(u, computeAccess(u, rs));
    expect(json).toEqual({
      name: 'bob',
      email: 'bob@example.com',
      disabled: false,
      admin_channels: ['a', 'z'],
      admin_roles: ['gone', 'r1', 'r2'],
      all_channels: ['!', 'a', 'm', 'z'],
      roles: ['r1', 'r2'],
    });
    expect(JSON.stringify(json)).not.toMatch(/secret|token/);
  });

  it('shows a role with its granted channels and the public channel', () => {
    const role = { name: 'r', admin_channels: { b: 1, a: 1 } };
    expect(roleJson(role, { user: {}, roles: {}, roleChannels: { r: { c: 3 } } })).toEqual({
      name: 'r',
      admin_channels: ['a', 'b'],
      all_channels: ['!', 'a', 'b', 'c'],
    });
  });
});
