import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../auth/password.ts';
import { openTestStore, TEST_SCRYPT } from '../auth/test-support.ts';
import { ConfigError } from '../config/load.ts';
import { addUserToFile, parseUsersFile, readUsersFile } from './users-file.ts';

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'syncline-users-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('users file', () => {
  it('reads password_hash entries, and Edge Server\'s "password" holding one of our hashes', async () => {
    const hash = await hashPassword('secret', TEST_SCRYPT);
    const users = parseUsersFile({ a: { password_hash: hash, admin_channels: ['x'] }, b: { password: hash, roles: ['admin'] } }, 'u.json');
    expect(users).toEqual({ a: { password_hash: hash, admin_channels: ['x'], admin_roles: [] }, b: { password_hash: hash, admin_channels: [], admin_roles: [] } });
  });

  it('refuses a plain-text password, naming the user', () => {
    expect(() => parseUsersFile({ carol: { password: 'hunter22' } }, 'u.json')).toThrow(ConfigError);
    expect(() => parseUsersFile({ carol: { password: 'hunter22' } }, 'u.json')).toThrow(/user "carol" has a plain-text "password"/);
    expect(() => parseUsersFile({ dave: { password: '$2y$05$abcdefghijklmnopqrstuv' } }, 'u.json')).toThrow(/user "dave" has a bcrypt hash/);
    expect(() => parseUsersFile({ erin: { admin_channels: [] } }, 'u.json')).toThrow(/user "erin" needs "password_hash"/);
    expect(() => parseUsersFile({ frank: { password_hash: 'nope' } }, 'u.json')).toThrow(/user "frank" needs "password_hash"/);
    expect(() => parseUsersFile([], 'u.json')).toThrow(/JSON object/);
  });

  it('adds and updates users with fresh hashes, keeping unset channels and roles', async () => {
    const file = join(await tempDir(), 'users.json');
    expect(await addUserToFile(file, 'alice', { password: 'first', channels: ['a', 'b'], roles: ['r'], scrypt: TEST_SCRYPT })).toEqual({ created: true });
    expect(await addUserToFile(file, 'bob', { password: 'bobpass', scrypt: TEST_SCRYPT })).toEqual({ created: true });
    const before = await readUsersFile(file);
    expect(await addUserToFile(file, 'alice', { password: 'second', scrypt: TEST_SCRYPT })).toEqual({ created: false });
    const after = await readUsersFile(file);
    expect(after.alice).toMatchObject({ admin_channels: ['a', 'b'], admin_roles: ['r'] });
    expect(after.alice!.password_hash).not.toBe(before.alice!.password_hash);
    expect(await verifyPassword('second', after.alice!.password_hash)).toBe(true);
    expect(after.bob).toEqual(before.bob);
    expect(await readFile(file, 'utf8')).not.toContain('second');
  });

  it('replaces a plain-text password when a user is set again', async () => {
    const file = join(await tempDir(), 'users.json');
    await writeFile(file, JSON.stringify({ carol: { password: 'plain', admin_channels: ['c'] } }));
    await addUserToFile(file, 'carol', { password: 'better', scrypt: TEST_SCRYPT });
    const users = await readUsersFile(file);
    expect(users.carol!.admin_channels).toEqual(['c']);
  });

  it('a stored hash set through putUser logs the user in (and a new hash ends its sessions)', async () => {
    const { store } = await openTestStore();
    const hash = await hashPassword('fromfile', TEST_SCRYPT);
    expect(await store.putUser('alice', { admin_channels: ['x'] }, { passwordHash: hash })).toEqual({ created: true, changed: true });
    expect(await store.authenticate('alice', 'fromfile')).not.toBeNull();
    expect(await store.putUser('alice', { admin_channels: ['x'] }, { passwordHash: hash })).toEqual({ created: false, changed: false });
    const before = (await store.getUser('alice'))!.session_uuid;
    await store.putUser('alice', { admin_channels: ['x'] }, { passwordHash: await hashPassword('other', TEST_SCRYPT) });
    expect((await store.getUser('alice'))!.session_uuid).not.toBe(before);
    expect(await store.authenticate('alice', 'fromfile')).toBeNull();
  });
});
