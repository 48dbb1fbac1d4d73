import { describe, expect, it } from 'vitest';
import { SynclineError } from '../base/errors.ts';
import {
  isValidChannelName,
  isValidEmail,
  isValidPrincipalName,
  parseRoleBody,
  parseUserBody,
} from './principal.ts';

function badRequest(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SynclineError);
    expect((err as SynclineError).status).toBe(400);
    return (err as SynclineError).reason;
  }
  throw new Error('expected a 400');
}

describe('names', () => {
  it('accepts SG-style principal names', () => {
    for (const ok of ['alice', 'a.b-c+d@e_f', 'Ünïcødé', '用户', '42', 'x y', 'GUEST', '_a', 'a%b']) {
      expect(isValidPrincipalName(ok), ok).toBe(true);
    }
  });

  it('refuses separators, backticks, control characters and names without a letter or digit', () => {
    for (const bad of ['', 'a/b', 'a:b', 'a,b', 'a`b', 'a\nb', 'a\u0000b', '...', '_-', 'a\ud800']) {
      expect(isValidPrincipalName(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('validates channel names', () => {
    for (const ok of ['a', 'A-b+c=d/e_f.g@h', 'канал', '数字9', '*', '!']) expect(isValidChannelName(ok), ok).toBe(true);
    for (const bad of ['', 'a b', 'a,b', 'a*', '!a', 'a:b', 'a#b']) expect(isValidChannelName(bad), bad).toBe(false);
  });

  it('validates emails loosely', () => {
    expect(isValidEmail('a.b+c@example.com')).toBe(true);
    expect(isValidEmail('nope')).toBe(false);
    expect(isValidEmail('a@')).toBe(false);
  });
});

describe('user bodies', () => {
  it('parses every field', () => {
    expect(
      parseUserBody('bob', {
        name: 'bob',
        password: 'secret',
        admin_channels: ['a', 'b', 'a'],
        admin_roles: ['r'],
        email: 'bob@example.com',
        disabled: false,
      }),
    ).toEqual({ password: 'secret', admin_channels: ['a', 'b'], admin_roles: ['r'], email: 'bob@example.com', disabled: false });
  });

  it('treats null as absent and ignores the read-only all_channels / roles', () => {
    expect(
      parseUserBody('bob', { password: null, email: null, admin_channels: null, all_channels: ['x'], roles: ['y'] }),
    ).toEqual({});
  });

  it('rejects unknown keys, wrong types and name mismatches', () => {
    expect(badRequest(() => parseUserBody('bob', { admin_channel: ['a'] }))).toMatch(/Unknown property "admin_channel"/);
    expect(badRequest(() => parseUserBody('bob', { jwt_roles: ['a'] }))).toMatch(/read-only/);
    expect(badRequest(() => parseUserBody('bob', { collection_access: {} }))).toMatch(/collection_access/);
    expect(badRequest(() => parseUserBody('bob', { name: 'eve' }))).toMatch(/Name mismatch/);
    expect(badRequest(() => parseUserBody('bob', { name: 3 }))).toMatch(/name/);
    expect(badRequest(() => parseUserBody('bob', { password: 5 }))).toMatch(/password/);
    expect(badRequest(() => parseUserBody('bob', { disabled: 'yes' }))).toMatch(/disabled/);
    expect(badRequest(() => parseUserBody('bob', { admin_channels: 'a' }))).toMatch(/array/);
    expect(badRequest(() => parseUserBody('bob', { admin_channels: [1] }))).toMatch(/array/);
    expect(badRequest(() => parseUserBody('bob', { admin_channels: ['bad channel'] }))).toMatch(/Invalid channel name/);
    expect(badRequest(() => parseUserBody('bob', { admin_roles: ['a/b'] }))).toMatch(/Invalid role name/);
    expect(badRequest(() => parseUserBody('bob', { email: 'nope' }))).toMatch(/email/);
    expect(badRequest(() => parseUserBody('bob', [1]))).toMatch(/JSON object/);
    expect(badRequest(() => parseUserBody('bob', null))).toMatch(/JSON object/);
  });

  it('enforces SG password rules', () => {
    expect(badRequest(() => parseUserBody('bob', { password: 'ab' }))).toMatch(/at least 3/);
    expect(parseUserBody('bob', { password: '' })).toEqual({ password: '' });
    expect(badRequest(() => parseUserBody('GUEST', { password: 'abcdef' }))).toMatch(/GUEST/);
  });
});

describe('role bodies', () => {
  it('accepts name and admin_channels, ignores all_channels, rejects user fields', () => {
    expect(parseRoleBody('r', { name: 'r', admin_channels: ['x'], all_channels: ['y'] })).toEqual({ admin_channels: ['x'] });
    expect(parseRoleBody('r', {})).toEqual({});
    expect(badRequest(() => parseRoleBody('r', { password: 'abc' }))).toMatch(/Unknown property "password" in role/);
    expect(badRequest(() => parseRoleBody('r', { name: 's' }))).toMatch(/Name mismatch/);
  });
});
