import { describe, expect, it } from 'vitest';
import type { RoleRecord, UserRecord } from './records.ts';
import type { GrantRecord } from '../storage/bucket.ts';
import { channelIntervals, channelsLostSince, currentChannels, currentRoles, roleIntervals } from './access-intervals.ts';

const user = (over: Partial<UserRecord> = {}): UserRecord => ({
  name: 'alice',
  disabled: false,
  admin_channels: {},
  admin_roles: {},
  session_uuid: 'x',
  ...over,
});

const grant = (grantee: string, kind: 'channel' | 'role', item: string, seq: number, revokedSeq: number | null = null): GrantRecord => ({
  grantee,
  kind,
  item,
  docId: `grant-${item}-${seq}`,
  seq,
  revokedSeq,
});

describe('access intervals', () => {
  it('gives admin channels, document grants and the public channel, each since its sequence', () => {
    const map = channelIntervals(user({ admin_channels: { a: 3 } }), new Map(), [grant('alice', 'channel', 'b', 7), grant('bob', 'channel', 'c', 2)]);
    expect(Object.fromEntries(currentChannels(map))).toEqual({ '!': 0, a: 3, b: 7 });
  });

  it('reaches role channels from the later of role membership and role channel grant', () => {
    const roles = new Map<string, RoleRecord>([['staff', { name: 'staff', admin_channels: { s: 10 } }]]);
    const grants = [grant('alice', 'role', 'staff', 4), grant('role:staff', 'channel', 't', 2)];
    const map = channelIntervals(user(), roles, grants);
    expect(Object.fromEntries(currentChannels(map))).toEqual({ '!': 0, s: 10, t: 4 });
    expect(Object.fromEntries(currentRoles(roleIntervals(user(), grants), roles))).toEqual({ staff: 4 });
  });

  it('ignores roles that do not exist and stops a deleted role granting at its deletion', () => {
    const roles = new Map<string, RoleRecord>([['gone', { name: 'gone', admin_channels: { g: 1 }, deleted_seq: 9 }]]);
    const u = user({ admin_roles: { gone: 2, never: 1 } });
    const map = channelIntervals(u, roles, []);
    expect(currentChannels(map).has('g')).toBe(false);
    expect(Object.fromEntries(channelsLostSince(map, 5))).toEqual({ g: 9 });
    expect(channelsLostSince(map, 9).size).toBe(0);
    expect(currentRoles(roleIntervals(u, []), roles).size).toBe(0);
  });

  it('reports channels lost after a position with the sequence of the loss, and only those held then', () => {
    const u = user({ revoked_channels: { a: [2, 8] } });
    const grants = [grant('alice', 'channel', 'b', 3, 12), grant('alice', 'channel', 'c', 20, 25), grant('alice', 'channel', 'd', 1, 4), grant('alice', 'channel', 'd', 5, null)];
    const map = channelIntervals(u, new Map(), grants);
    expect(Object.fromEntries(channelsLostSince(map, 5))).toEqual({ a: 8, b: 12 });
    expect(Object.fromEntries(channelsLostSince(map, 10))).toEqual({ b: 12 });
    expect(Object.fromEntries(channelsLostSince(map, 22))).toEqual({ c: 25 });
    expect(channelsLostSince(map, 1).has('d')).toBe(false);
    expect(Object.fromEntries(currentChannels(map))).toEqual({ '!': 0, d: 5 });
  });

  it('loses a role channel when the role membership is revoked', () => {
    const roles = new Map<string, RoleRecord>([['r', { name: 'r', admin_channels: { x: 1 } }]]);
    const u = user({ revoked_roles: { r: [2, 6] } });
    const map = channelIntervals(u, roles, []);
    expect(currentChannels(map).has('x')).toBe(false);
    expect(Object.fromEntries(channelsLostSince(map, 3))).toEqual({ x: 6 });
  });

  it('counts a role channel only while the role exists, across deletion and re-creation', () => {
    const roles = new Map<string, RoleRecord>([
      ['r', { name: 'r', admin_channels: {}, lives: [[5, 9], [12, null]] }],
    ]);
    // Membership and the role's channel were granted by documents before the role existed.
    const grants = [grant('alice', 'role', 'r', 2), grant('role:r', 'channel', 'x', 3)];
    const map = channelIntervals(user(), roles, grants);
    expect(map.get('x')).toEqual([
      { from: 5, to: 9 },
      { from: 12, to: Infinity },
    ]);
    expect(Object.fromEntries(currentChannels(map))).toEqual({ '!': 0, x: 12 });
  });
});
