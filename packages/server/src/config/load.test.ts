import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseServerConfig } from './load.ts';

const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('server configuration', () => {
  it('fills Sync Gateway defaults: public :4984, admin on loopback :4985, metrics on loopback :4986, revs_limit 1000, 20 MB limits', () => {
    const config = parseServerConfig({ databases: { db: {} } });
    expect(config.interface).toBe(':4984');
    expect(config.adminInterface).toBe('127.0.0.1:4985');
    expect(config.metricsInterface).toBe('127.0.0.1:4986');
    expect(config.databases.db).toEqual({ server: 'sqlite:./data/db.sqlite', revs_limit: 1000, max_document_size: 20 * 1024 * 1024, max_attachment_size: 20 * 1024 * 1024, javascript_timeout_secs: 1, enable_shared_bucket_access: true, metadata_purge_interval: 3, allow_empty_password: false, send_www_authenticate_header: true, pool_size: 10 });
    expect(Object.isFrozen(config.databases.db)).toBe(true);
  });

  it('lets the metrics API be disabled with "" or null', () => {
    expect(parseServerConfig({ metricsInterface: '' }).metricsInterface).toBe('');
    expect(parseServerConfig({ metricsInterface: null }).metricsInterface).toBeNull();
  });

  it.each([
    [{ bogus: true }, 'bogus'],
    [{ metricsInterface: 4986 }, 'metricsInterface'],
    [{ interface: 4984 }, 'interface'],
    [{ databases: { db: { revs_limit: 'many' } } }, 'databases.db.revs_limit'],
    [{ databases: { db: { revs_limit: 5 } } }, 'databases.db.revs_limit'],
    [{ databases: { db: { unknown_key: 1 } } }, 'databases.db.unknown_key'],
    [{ databases: { 'Not-Lower': {} } }, 'databases.Not-Lower'],
    [{ databases: { db: [] } }, 'databases.db'],
    [{ logging: { console: { log_level: 'loud' } } }, 'logging.console.log_level'],
  ])('names the offending field of %j', (input, path) => {
    expect(errorOf(() => parseServerConfig(input)).path).toBe(path);
  });

  it('reports unreadable and non-JSON files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncline-config-'));
    await writeFile(join(dir, 'bad.json'), '{ "databases": ');
    await expect(loadConfigFile(join(dir, 'bad.json'))).rejects.toThrow(/not valid JSON/);
    await expect(loadConfigFile(join(dir, 'missing.json'))).rejects.toThrow(/cannot read/);
    await rm(dir, { recursive: true, force: true });
  });
});
