import { describe, expect, it } from 'vitest';
import { REDACTED, redactDatabaseConfig } from './redact.ts';

describe('redactDatabaseConfig', () => {
  it('hides the storage password, users\' passwords and replication credentials, and nothing else', () => {
    const config = {
      server: 'postgresql://app:s3cret@db.internal:5432/app',
      users: { ann: { password: 'pw', admin_channels: ['a'] }, bob: { admin_channels: [] } },
      replications: { r1: { remote: 'wss://u:p@remote:4984/db', password: 'rp', direction: 'push' } },
      revs_limit: 100,
    };
    const shown = redactDatabaseConfig(config);
    expect(shown.server).toBe(`postgresql://app:${REDACTED}@db.internal:5432/app`);
    expect(shown.users).toEqual({ ann: { password: REDACTED, admin_channels: ['a'] }, bob: { admin_channels: [] } });
    expect(shown.replications).toEqual({ r1: { remote: `wss://u:${REDACTED}@remote:4984/db`, password: REDACTED, direction: 'push' } });
    expect(shown.revs_limit).toBe(100);
    expect(JSON.stringify(shown)).not.toMatch(/s3cret|"pw"|"rp"|u:p@/);
    // The input is left as it was.
    expect(config.users.ann.password).toBe('pw');
  });

  it('leaves SQLite paths and URLs without a password alone', () => {
    expect(redactDatabaseConfig({ server: 'sqlite:./data/db.sqlite' }).server).toBe('sqlite:./data/db.sqlite');
    expect(redactDatabaseConfig({ server: 'postgresql://db.internal/app' }).server).toBe('postgresql://db.internal/app');
  });
});
