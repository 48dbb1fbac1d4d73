import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from './test-support.ts';

let t: TestStore;
beforeEach(async () => {
  t = await openTestStore();
  await t.store.putUser('bob', { password: 'secret' });
});
afterEach(async () => {
  await t.bucket.close();
});

describe('sessions', () => {
  it('creates and reads a session', async () => {
    const before = Date.now();
    const s = await t.store.createSession('bob');
    expect(s.session_id).toMatch(/^[0-9a-f]{40}$/);
    expect(s.cookie_name).toBe('SyncGatewaySession');
    const expires = Date.parse(s.expires);
    expect(expires - before).toBeGreaterThanOrEqual(24 * 3600 * 1000 - 5);
    const got = await t.store.getSession(s.session_id);
    expect(got?.name).toBe('bob');
    expect(got?.expires.getTime()).toBe(expires);
    // The id itself is not stored.
    const stored = await t.bucket.listRecords('_sync:session:');
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(s.session_id);
  });

  it('refuses bad ttls, unknown, GUEST and disabled users', async () => {
    await expect(t.store.createSession('bob', 0)).rejects.toMatchObject({ status: 400 });
    await expect(t.store.createSession('bob', -1)).rejects.toMatchObject({ status: 400 });
    await expect(t.store.createSession('nobody')).rejects.toMatchObject({ status: 404 });
    await expect(t.store.createSession('GUEST')).rejects.toMatchObject({ status: 400 });
    await t.store.putUser('bob', { disabled: true });
    await expect(t.store.createSession('bob')).rejects.toMatchObject({ status: 400 });
  });

  it('returns null for malformed or unknown ids, never throwing', async () => {
    for (const id of ['', 'abc', 'G'.repeat(40), 'A'.repeat(40), '../etc', 42, null, undefined, {}]) {
      await expect(t.store.getSession(id)).resolves.toBeNull();
      await expect(t.store.deleteSession(id)).resolves.toBe(false);
    }
    await expect(t.store.getSession('a'.repeat(40))).resolves.toBeNull();
  });

  it('expires', async () => {
    const s = await t.store.createSession('bob', 0.15);
    await sleep(250);
    await expect(t.store.getSession(s.session_id)).resolves.toBeNull();
  });

  it('slides its expiry once a tenth of its lifetime has passed', async () => {
    const s = await t.store.createSession('bob', 2);
    const first = await t.store.getSession(s.session_id);
    expect(first?.expires.toISOString()).toBe(s.expires);
    expect(first?.renewed).toBe(false);
    await sleep(300);
    const later = await t.store.getSession(s.session_id);
    expect(later?.expires.getTime()).toBeGreaterThan(Date.parse(s.expires));
    expect(later?.renewed).toBe(true);
    const again = await t.store.getSession(s.session_id);
    expect(again?.expires).toEqual(later?.expires);
    expect(again?.renewed).toBe(false);
  });

  it('is deleted on logout', async () => {
    const s = await t.store.createSession('bob');
    await expect(t.store.deleteSession(s.session_id)).resolves.toBe(true);
    await expect(t.store.getSession(s.session_id)).resolves.toBeNull();
  });

  it('dies with its user, even if the user is re-created', async () => {
    const s = await t.store.createSession('bob');
    await t.store.deleteUser('bob');
    await t.store.putUser('bob', { password: 'secret' });
    await expect(t.store.getSession(s.session_id)).resolves.toBeNull();
  });

  it('dies when the user is disabled, and stays dead after re-enabling', async () => {
    const s = await t.store.createSession('bob');
    await t.store.putUser('bob', { disabled: true });
    await expect(t.store.getSession(s.session_id)).resolves.toBeNull();
    await t.store.putUser('bob', { disabled: false });
    await expect(t.store.getSession(s.session_id)).resolves.toBeNull();
  });

  it('dies on a password change but not when the same password is put again', async () => {
    const s1 = await t.store.createSession('bob');
    await t.store.putUser('bob', { password: 'secret', email: 'bob@example.com' });
    await expect(t.store.getSession(s1.session_id)).resolves.not.toBeNull();
    await t.store.putUser('bob', { password: 'other' });
    await expect(t.store.getSession(s1.session_id)).resolves.toBeNull();
  });

  it('can all be ended for one user', async () => {
    const [a, b] = await Promise.all([t.store.createSession('bob'), t.store.createSession('bob')]);
    await expect(t.store.deleteUserSessions('bob')).resolves.toBe(true);
    await expect(t.store.deleteUserSessions('nobody')).resolves.toBe(false);
    await expect(t.store.getSession(a.session_id)).resolves.toBeNull();
    await expect(t.store.getSession(b.session_id)).resolves.toBeNull();
    const c = await t.store.createSession('bob');
    await expect(t.store.getSession(c.session_id)).resolves.toMatchObject({ name: 'bob' });
  });
});
