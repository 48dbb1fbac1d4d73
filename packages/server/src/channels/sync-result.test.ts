import { describe, expect, it } from 'vitest';
import { convertExpiry, RELATIVE_EXPIRY_LIMIT } from './expiry.ts';
import { isValidChannelName } from './channel-names.ts';
import { finalizeSyncOutput } from './sync-result.ts';

const NOW = 1_700_000_000;

describe('convertExpiry', () => {
  it('follows Couchbase: offsets up to 30 days, absolute times above', () => {
    expect(convertExpiry(60, NOW)).toEqual({ expiry: NOW + 60 });
    expect(convertExpiry(RELATIVE_EXPIRY_LIMIT, NOW)).toEqual({ expiry: NOW + RELATIVE_EXPIRY_LIMIT });
    expect(convertExpiry(RELATIVE_EXPIRY_LIMIT + 1, NOW)).toEqual({ expiry: RELATIVE_EXPIRY_LIMIT + 1 });
    expect(convertExpiry(90.9, NOW)).toEqual({ expiry: NOW + 90 });
    expect(convertExpiry(0, NOW)).toEqual({ expiry: undefined });
  });

  it('reads numeric strings and ISO-8601 dates', () => {
    expect(convertExpiry(' 120 ', NOW)).toEqual({ expiry: NOW + 120 });
    expect(convertExpiry('2023-11-14T22:13:20Z', NOW)).toEqual({ expiry: NOW });
    expect(convertExpiry('2023-11-14T22:13:20.500Z', NOW)).toEqual({ expiry: NOW });
    expect(convertExpiry('2023-11-15', NOW)).toEqual({ expiry: Date.UTC(2023, 10, 15) / 1000 });
  });

  it.each([-1, Number.NaN, Infinity, 2 ** 32, '', 'soon', '2023-11-14T22:13:20', '12:00', '1e5'])('refuses %j', (v) => {
    expect(convertExpiry(v, NOW)).toHaveProperty('invalid');
  });
});

describe('isValidChannelName', () => {
  it('accepts what Sync Gateway accepts', () => {
    for (const name of ['a', 'A-Z', 'x+y=z', 'a/b', 'a_b.c@d', 'ñandú', 'Ελλάδα', '٣', '*', '!']) {
      expect(isValidChannelName(name), name).toBe(true);
    }
    for (const name of ['', ' ', 'a b', 'a:b', 'a,b', '**', '!!', 'a*', 'tab\t', 'emoji😀']) {
      expect(isValidChannelName(name), name).toBe(false);
    }
  });
});

describe('finalizeSyncOutput', () => {
  it('keeps the first occurrence order of channels and skips empty grants', () => {
    const r = finalizeSyncOutput(
      { ch: ['b', 'a', 'b'], acc: [[['u'], []], [[], ['x']], [['u', ''], ['x', 'x']]], roles: [], warn: ['w', 'w'] },
      NOW,
    );
    expect(r).toEqual({ channels: ['b', 'a'], access: { u: ['x'] }, roles: {}, warnings: ['w'] });
  });

  it('rejects an illegal role name after the prefix', () => {
    const r = finalizeSyncOutput({ ch: [], acc: [], roles: [[['u'], ['role:a b']]], warn: [] }, NOW);
    expect(r.rejection).toEqual({ status: 500, reason: 'Illegal role name "a b"' });
  });
});
