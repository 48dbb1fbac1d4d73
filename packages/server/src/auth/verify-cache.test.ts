import { describe, expect, it } from 'vitest';
import { VerificationCache } from './verify-cache.ts';
import { openTestStore } from './test-support.ts';

describe('password verification cache', () => {
  it('remembers a verified triple until its TTL, and nothing else', () => {
    let now = 1000;
    const cache = new VerificationCache({ ttlMs: 100, now: () => now });
    cache.add('bob', 'secret', 'hash1');
    expect(cache.has('bob', 'secret', 'hash1')).toBe(true);
    expect(cache.has('bob', 'secret', 'hash2')).toBe(false);
    expect(cache.has('bob', 'Secret', 'hash1')).toBe(false);
    expect(cache.has('bo', 'bsecret', 'hash1')).toBe(false);
    now += 100;
    expect(cache.has('bob', 'secret', 'hash1')).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('stays within its bound, dropping the oldest entries', () => {
    const cache = new VerificationCache({ maxEntries: 3 });
    for (const name of ['a', 'b', 'c', 'd']) cache.add(name, 'pw', 'h');
    expect(cache.size).toBe(3);
    expect(cache.has('a', 'pw', 'h')).toBe(false);
    expect(cache.has('d', 'pw', 'h')).toBe(true);
  });

  it('never lets a cached password outlive a password change, a disabled account or a deleted user', async () => {
    const t = await openTestStore();
    try {
      const { store } = t;
      await store.putUser('bob', { password: 'secret' });
      expect(await store.authenticate('bob', 'secret')).not.toBeNull();
      expect(await store.authenticate('bob', 'secret')).not.toBeNull();
      await store.putUser('bob', { password: 'changed' });
      expect(await store.authenticate('bob', 'secret')).toBeNull();
      expect(await store.authenticate('bob', 'changed')).not.toBeNull();
      await store.putUser('bob', { disabled: true });
      expect(await store.authenticate('bob', 'changed')).toBeNull();
      await store.putUser('bob', { disabled: false });
      await store.deleteUser('bob');
      expect(await store.authenticate('bob', 'changed')).toBeNull();
      await store.putUser('bob', { password: 'other' });
      expect(await store.authenticate('bob', 'changed')).toBeNull();
    } finally {
      await t.bucket.close();
    }
  });
});
