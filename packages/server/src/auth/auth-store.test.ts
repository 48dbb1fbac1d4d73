import { afterEach, describe, expect, it } from 'vitest';
import type { SynclineError } from '../base/errors.ts';
import type { Bucket } from '../storage/bucket.ts';
import { userJson } from './access.ts';
import { hashPassword } from './password.ts';
import { openTestStore, type TestStore } from './test-support.ts';

let t: TestStore;
afterEach(async () => {
  await t.bucket.close();
});

async function rejects400(p: Promise<unknown>): Promise<string> {
  const err = (await p.then(() => null, (e: unknown) => e)) as SynclineError | null;
  expect(err?.status).toBe(400);
  return err?.reason ?? '';
}

describe('users', () => {
  it('creates, reads, updates, lists and deletes users', async () => {
    t = await openTestStore();
    const { store } = t;
    await expect(store.putUser('bob', { password: 'secret', admin_channels: ['a'] })).resolves.toEqual({ created: true, changed: true });
    await store.putUser('alice', { password: 'secret' });
    const bob = await store.getUser('bob');
    expect(bob).toMatchObject({ name: 'bob', disabled: false, admin_channels: { a: 1 }, admin_roles: {} });
    expect(bob?.password_hash).toMatch(/^scrypt\$1024\$/);

    // Omitting the password keeps the hash.
    await expect(store.putUser('bob', { email: 'bob@example.com' })).resolves.toEqual({ created: false, changed: true });
    expect((await store.getUser('bob'))?.password_hash).toBe(bob?.password_hash);
    expect(await store.putUser('bob', { email: 'bob@example.com', password: null })).toEqual({ created: false, changed: false });
    await store.putUser('bob', { email: '' });
    expect((await store.getUser('bob'))?.email).toBeUndefined();

    expect(await store.listUsers()).toEqual(['alice', 'bob']);
    expect(await store.deleteUser('bob')).toBe(true);
    expect(await store.deleteUser('bob')).toBe(false);
    expect(await store.getUser('bob')).toBeNull();
    expect(await store.listUsers()).toEqual(['alice']);
    expect(await store.getUser('bad/name')).toBeNull();
  });

  it('requires a password for new users unless empty passwords are allowed', async () => {
    t = await openTestStore();
    expect(await rejects400(t.store.putUser('bob', { admin_channels: ['a'] }))).toMatch(/Empty passwords/);
    expect(await rejects400(t.store.putUser('bob', { password: '' }))).toMatch(/Empty passwords/);
    expect(await rejects400(t.store.putUser('a:b', { password: 'secret' }))).toMatch(/Invalid user name/);
    await t.bucket.close();

    t = await openTestStore({ allowEmptyPassword: true });
    await t.store.putUser('open', {});
    expect(await t.store.authenticate('open', '')).toMatchObject({ name: 'open' });
    expect(await t.store.authenticate('open', 'x')).toBeNull();
  });

  it('has an implicit, disabled GUEST that can be configured and reset', async () => {
    t = await openTestStore();
    const { store } = t;
    const guest = await store.getUserAccess('GUEST');
    expect(guest && userJson(guest.user, guest.access)).toEqual({
      name: 'GUEST', disabled: true, admin_channels: [], admin_roles: [], all_channels: ['!'], roles: [],
    });
    await expect(store.putUser('GUEST', { disabled: false, admin_channels: ['*'] })).resolves.toEqual({ created: false, changed: true });
    expect(await store.getUser('GUEST')).toMatchObject({ disabled: false, admin_channels: { '*': 1 } });
    expect(await store.listUsers()).toEqual([]);
    expect(await store.authenticate('GUEST', '')).toBeNull();
    await expect(store.deleteUser('GUEST')).resolves.toBe(true);
    expect(await store.getUser('GUEST')).toMatchObject({ disabled: true, admin_channels: {} });
  });

  it('stamps newly granted channels and roles with the sequence allocated for the write', async () => {
    const announced: number[] = [];
    t = await openTestStore({ onSequence: (seq) => announced.push(seq) });
    const { store, bucket } = t;
    await store.putUser('bob', { password: 'secret', admin_channels: ['a'], admin_roles: ['r1'] });
    const s1 = await bucket.lastSequence();
    expect(announced).toEqual([s1]);
    await store.putUser('bob', { admin_channels: ['a', 'b'], admin_roles: ['r2'] });
    const s2 = await bucket.lastSequence();
    expect(s2).toBeGreaterThan(s1);
    expect(announced).toEqual([s1, s2]);
    expect(await store.getUser('bob')).toMatchObject({
      admin_channels: { a: s1, b: s2 },
      admin_roles: { r2: s2 },
      revoked_roles: { r1: [s1, s2] },
    });
    expect((await store.getUser('bob'))?.revoked_channels).toBeUndefined();

    // An update that changes nothing writes nothing and allocates no sequence.
    await expect(store.putUser('bob', { admin_channels: ['b', 'a'], admin_roles: ['r2'] })).resolves.toEqual({ created: false, changed: false });
    expect(await bucket.lastSequence()).toBe(s2);
    expect(announced).toHaveLength(2);

    await store.putRole('r', { admin_channels: ['x'] });
    const s3 = await bucket.lastSequence();
    await store.putRole('r', { admin_channels: ['x', 'y'] });
    const s4 = await bucket.lastSequence();
    expect(await store.getRole('r')).toEqual({ name: 'r', admin_channels: { x: s3, y: s4 }, lives: [[s3, null]] });
    expect(announced).toEqual([s1, s2, s3, s4]);
  });

  it('keeps revoked channels and roles as history until they are granted again', async () => {
    t = await openTestStore();
    const { store, bucket } = t;
    await store.putUser('bob', { password: 'secret', admin_channels: ['a', 'b'], admin_roles: ['r'] });
    const granted = await bucket.lastSequence();
    await store.putUser('bob', { admin_channels: ['b'], admin_roles: [] });
    const revoked = await bucket.lastSequence();
    expect(await store.getUser('bob')).toMatchObject({
      admin_channels: { b: granted },
      admin_roles: {},
      revoked_channels: { a: [granted, revoked] },
      revoked_roles: { r: [granted, revoked] },
    });
    // Leaving a field out keeps grants and history as they are.
    await store.putUser('bob', { email: 'bob@example.com' });
    expect(await store.getUser('bob')).toMatchObject({ revoked_channels: { a: [granted, revoked] } });

    await store.putUser('bob', { admin_channels: ['a', 'b'], admin_roles: ['r'] });
    const regranted = await bucket.lastSequence();
    const bob = await store.getUser('bob');
    expect(bob).toMatchObject({ admin_channels: { a: regranted, b: granted }, admin_roles: { r: regranted } });
    expect(bob?.revoked_channels).toBeUndefined();
    expect(bob?.revoked_roles).toBeUndefined();
    // The stored JSON carries no empty history maps.
    expect((await bucket.getRecord('_sync:user:bob'))?.value).not.toContain('revoked');

    await store.putRole('staff', { admin_channels: ['x', 'y'] });
    const roleGranted = await bucket.lastSequence();
    await store.putRole('staff', { admin_channels: ['y'] });
    const roleRevoked = await bucket.lastSequence();
    expect(await store.getRole('staff')).toEqual({
      name: 'staff',
      admin_channels: { y: roleGranted },
      revoked_channels: { x: [roleGranted, roleRevoked] },
      lives: [[roleGranted, null]],
    });
  });

  it('refuses to create over an existing user or role with createOnly (409)', async () => {
    t = await openTestStore();
    const { store } = t;
    await expect(store.putUser('bob', { password: 'secret' }, { createOnly: true })).resolves.toMatchObject({ created: true });
    await expect(store.putUser('bob', { password: 'secret' }, { createOnly: true })).rejects.toMatchObject({ status: 409 });
    await expect(store.putUser('GUEST', { disabled: false }, { createOnly: true })).rejects.toMatchObject({ status: 409 });
    await expect(store.putRole('r', {}, { createOnly: true })).resolves.toMatchObject({ created: true });
    await expect(store.putRole('r', {}, { createOnly: true })).rejects.toMatchObject({ status: 409 });
    await store.deleteRole('r');
    await expect(store.putRole('r', {}, { createOnly: true })).resolves.toMatchObject({ created: true });
  });
});

describe('roles', () => {
  it('creates, lists and deletes roles; deleted roles drop out of users access', async () => {
    t = await openTestStore();
    const { store } = t;
    await expect(store.putRole('editors', { admin_channels: ['drafts'] })).resolves.toEqual({ created: true, changed: true });
    await expect(store.putRole('editors', { name: 'editors', admin_channels: ['drafts'] })).resolves.toEqual({ created: false, changed: false });
    await store.putRole('readers', {});
    expect(await store.listRoles()).toEqual(['editors', 'readers']);
    await store.putUser('bob', { password: 'secret', admin_roles: ['editors', 'ghost'] });

    let view = await store.getUserAccess('bob');
    expect(view && userJson(view.user, view.access)).toMatchObject({ all_channels: ['!', 'drafts'], roles: ['editors'] });
    expect(await store.deleteRole('editors')).toBe(true);
    expect(await store.deleteRole('editors')).toBe(false);
    view = await store.getUserAccess('bob');
    expect(view && userJson(view.user, view.access)).toMatchObject({
      admin_roles: ['editors', 'ghost'], all_channels: ['!'], roles: [],
    });
    expect(await rejects400(store.putRole('r', { email: 'a@b.c' }))).toMatch(/Unknown property/);
  });

  it('keeps a tombstone of a deleted role that only access history sees', async () => {
    const announced: number[] = [];
    t = await openTestStore({ onSequence: (seq) => announced.push(seq) });
    const { store, bucket } = t;
    await store.putRole('staff', { admin_channels: ['x', 'y'] });
    const created = await bucket.lastSequence();
    await store.putRole('staff', { admin_channels: ['x'] });
    const narrowed = await bucket.lastSequence();
    expect(await store.deleteRole('staff')).toBe(true);
    const deleted = await bucket.lastSequence();
    expect(announced).toEqual([created, narrowed, deleted]);

    expect(await store.getRole('staff')).toBeNull();
    expect((await store.getRoles(['staff'])).size).toBe(0);
    expect(await store.listRoles()).toEqual([]);
    expect(await store.listRoles({ includeDeleted: true })).toEqual(['staff']);
    expect((await store.getRoleRecords(['staff'])).get('staff')).toEqual({
      name: 'staff',
      admin_channels: { x: created },
      revoked_channels: { y: [created, narrowed] },
      deleted_seq: deleted,
      lives: [[created, deleted]],
    });
    // Deleting again changes nothing.
    expect(await store.deleteRole('staff')).toBe(false);
    expect(await bucket.lastSequence()).toBe(deleted);

    // Re-creating replaces the tombstone: fresh sequences, the old grants kept as history.
    await expect(store.putRole('staff', { admin_channels: ['x', 'z'] })).resolves.toEqual({ created: true, changed: true });
    const recreated = await bucket.lastSequence();
    expect(await store.getRole('staff')).toEqual({
      name: 'staff',
      admin_channels: { x: recreated, z: recreated },
      revoked_channels: { y: [created, narrowed] },
      lives: [
        [created, deleted],
        [recreated, null],
      ],
    });
    expect(await store.listRoles()).toEqual(['staff']);
  });

  it('purges a role record entirely on request', async () => {
    t = await openTestStore();
    const { store, bucket } = t;
    await store.putRole('temp', { admin_channels: ['x'] });
    expect(await store.deleteRole('temp', { purge: true })).toBe(true);
    expect(await bucket.getRecord('_sync:role:temp')).toBeNull();
    expect(await store.listRoles({ includeDeleted: true })).toEqual([]);
    expect(await store.deleteRole('temp', { purge: true })).toBe(false);
    expect(await store.deleteRole('bad/name')).toBe(false);
  });
});

describe('authenticate', () => {
  it('accepts the right password only, for enabled users only', async () => {
    t = await openTestStore();
    const { store } = t;
    await store.putUser('bob', { password: 'secret' });
    expect(await store.authenticate('bob', 'secret')).toMatchObject({ name: 'bob' });
    expect(await store.authenticate('bob', 'wrong')).toBeNull();
    expect(await store.authenticate('nobody', 'secret')).toBeNull();
    expect(await store.authenticate('bad:name', 'secret')).toBeNull();
    await store.putUser('bob', { disabled: true });
    expect(await store.authenticate('bob', 'secret')).toBeNull();
    await store.putUser('bob', { disabled: false, password: 'changed' });
    expect(await store.authenticate('bob', 'secret')).toBeNull();
    expect(await store.authenticate('bob', 'changed')).toMatchObject({ name: 'bob' });
  });

  it('warns about repeated failures without logging the password', async () => {
    t = await openTestStore({ failures: { threshold: 3, windowMs: 60_000 } });
    await t.store.putUser('bob', { password: 'secret' });
    for (let i = 0; i < 3; i++) await t.store.authenticate('bob', 'hunter2-guess');
    const warnings = t.logs.filter((l) => l['level'] === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ key: 'Auth', user: 'bob', failures: 3 });
    expect(t.rawLog()).not.toContain('hunter2');
    expect(t.rawLog()).not.toContain('secret');
  });
});

describe('config principals', () => {
  it('applies users and roles idempotently without rehashing', async () => {
    t = await openTestStore();
    const { store, bucket } = t;
    const config = {
      roles: { staff: { admin_channels: ['internal'] } },
      users: {
        bob: { password: 'secret', admin_roles: ['staff'], email: 'bob@example.com' },
        GUEST: { disabled: false, admin_channels: ['public'] },
      },
    };
    expect(await store.applyConfigPrincipals(config)).toEqual({ created: 2, updated: 1 });
    const before = await bucket.getRecord('_sync:user:bob');
    expect(await store.applyConfigPrincipals(config)).toEqual({ created: 0, updated: 0 });
    expect(await bucket.getRecord('_sync:user:bob')).toEqual(before);

    expect(await store.applyConfigPrincipals({ users: { bob: { password: 'newsecret' } } })).toEqual({ created: 0, updated: 1 });
    expect(await store.authenticate('bob', 'newsecret')).not.toBeNull();
    expect(await rejects400(store.applyConfigPrincipals({ users: { eve: { password: 'pw', bogus: 1 } } }))).toMatch(
      /^Invalid config for user "eve": Unknown property "bogus"/,
    );
  });

  it('adopts a new KDF cost for a matching password without ending sessions', async () => {
    t = await openTestStore();
    const { store, bucket } = t;
    await store.putUser('bob', { password: 'secret' });
    const old = await bucket.getRecord('_sync:user:bob');
    const oldUser = JSON.parse(old?.value ?? '{}') as Record<string, unknown>;
    await bucket.setRecord('_sync:user:bob', JSON.stringify({ ...oldUser, password_hash: await hashPassword('secret', { N: 512, r: 8, p: 1 }) }));
    const session = await store.createSession('bob');
    await store.applyConfigPrincipals({ users: { bob: { password: 'secret' } } });
    expect((await store.getUser('bob'))?.password_hash).toMatch(/^scrypt\$1024\$/);
    expect(await store.getSession(session.session_id)).not.toBeNull();
  });
});

describe('concurrency', () => {
  it('merges concurrent updates of one user through compare-and-set retries', async () => {
    let conflicts = 0;
    const countConflicts = (b: Bucket): Bucket =>
      new Proxy(b, {
        get(target, prop, receiver) {
          if (prop === 'setRecordAtSequence') {
            return async (...args: Parameters<Bucket['setRecordAtSequence']>) => {
              const r = await target.setRecordAtSequence(...args);
              if (r === null) conflicts++;
              return r;
            };
          }
          const value: unknown = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    t = await openTestStore({}, countConflicts);
    const { store } = t;
    await store.putUser('bob', { password: 'secret' });
    const results = await Promise.all([
      store.putUser('bob', { email: 'bob@example.com' }),
      store.putUser('bob', { admin_channels: ['a'] }),
      store.putUser('bob', { admin_roles: ['r'] }),
      store.putUser('bob', { password: 'newsecret' }),
    ]);
    expect(results.every((r) => r.changed && !r.created)).toBe(true);
    expect(conflicts).toBeGreaterThan(0);
    const bob = await store.getUser('bob');
    expect(bob).toMatchObject({ email: 'bob@example.com', admin_channels: { a: expect.any(Number) }, admin_roles: { r: expect.any(Number) } });
    expect(bob?.admin_channels['a']).not.toBe(bob?.admin_roles['r']);
    expect(await store.authenticate('bob', 'newsecret')).not.toBeNull();

    const created = await Promise.all([store.putUser('eve', { password: 'secret1' }), store.putUser('eve', { password: 'secret1', disabled: true })]);
    expect(created.filter((r) => r.created)).toHaveLength(1);
    expect(await store.getUser('eve')).toMatchObject({ disabled: true });
  });
});
