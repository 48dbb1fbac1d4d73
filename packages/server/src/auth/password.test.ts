import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, hashUsesParams, isValidScryptParams, verifyPassword } from './password.ts';
import { TEST_SCRYPT } from './test-support.ts';

describe('password hashing', () => {
  it('round-trips and rejects a wrong password', async () => {
    const hash = await hashPassword('correct horse', TEST_SCRYPT);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(hash).not.toContain('correct horse');
    await expect(verifyPassword('correct horse', hash)).resolves.toBe(true);
    await expect(verifyPassword('correct horsE', hash)).resolves.toBe(false);
    await expect(verifyPassword('', hash)).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same', TEST_SCRYPT), hashPassword('same', TEST_SCRYPT)]);
    expect(a).not.toBe(b);
    await expect(verifyPassword('same', b)).resolves.toBe(true);
  });

  it('treats canonically equivalent Unicode passwords alike', async () => {
    const hash = await hashPassword('caf\u00e9', TEST_SCRYPT);
    await expect(verifyPassword('cafe\u0301', hash)).resolves.toBe(true);
  });

  it('verifies with the parameters recorded in the hash', async () => {
    const hash = await hashPassword('pw-old-cost', { N: 512, r: 4, p: 1 });
    expect(hashUsesParams(hash, TEST_SCRYPT)).toBe(false);
    expect(hashUsesParams(hash, { N: 512, r: 4, p: 1 })).toBe(true);
    await expect(verifyPassword('pw-old-cost', hash)).resolves.toBe(true);
  });

  it('never matches a malformed or hostile hash', async () => {
    for (const bad of ['', 'scrypt', 'bcrypt$1$2$3$YQ==$YQ==', 'scrypt$1000$8$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==',
      `scrypt$${2 ** 30}$8$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==`, 'scrypt$1024$8$1$$']) {
      await expect(verifyPassword('x', bad)).resolves.toBe(false);
    }
  });

  it('uses a slow default cost and refuses nonsense parameters', async () => {
    expect(DEFAULT_SCRYPT_PARAMS.N).toBeGreaterThanOrEqual(2 ** 15);
    expect(isValidScryptParams({ N: 1000, r: 8, p: 1 })).toBe(false);
    await expect(hashPassword('x', { N: 3, r: 8, p: 1 })).rejects.toThrow(RangeError);
  });
});
