import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

  it('reads JSON5 config files (comments, unquoted keys, trailing commas), by extension or content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncline-config-'));
    const text = `// edge\n{ interface: ':59840', databases: { db: { server: 'sqlite::memory:', revs_limit: 50, }, }, }\n`;
    await writeFile(join(dir, 'edge.json5'), text);
    await writeFile(join(dir, 'edge.json'), text);
    for (const file of ['edge.json5', 'edge.json']) {
      const config = await loadConfigFile(join(dir, file));
      expect(config.interface).toBe(':59840');
      expect(config.databases.db!.revs_limit).toBe(50);
    }
    await writeFile(join(dir, 'bad.json5'), '{ databases: ');
    await expect(loadConfigFile(join(dir, 'bad.json5'))).rejects.toThrow(/not valid JSON or JSON5/);
    await rm(dir, { recursive: true, force: true });
  });

  it('turns a database path (relative to the config file) into sqlite storage; create false needs the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncline-config-'));
    const config = parseServerConfig({ databases: { db: { path: 'data/db.sqlite', create: true } } }, { baseDir: dir });
    expect(config.databases.db!.server).toBe(`sqlite:${join(dir, 'data/db.sqlite')}`);
    expect(config.databases.db!.path).toBeUndefined();
    // Edge Server's default: create false, so a missing file is an error naming the field.
    const missing = errorOf(() => parseServerConfig({ databases: { db: { path: 'nope.sqlite' } } }, { baseDir: dir }));
    expect(missing.path).toBe('databases.db.path');
    expect(missing.message).toMatch(/does not exist.*"create": true/);
    await writeFile(join(dir, 'there.sqlite'), '');
    expect(parseServerConfig({ databases: { db: { path: 'there.sqlite', create: false } } }, { baseDir: dir }).databases.db!.server).toBe(`sqlite:${join(dir, 'there.sqlite')}`);
    const both = errorOf(() => parseServerConfig({ databases: { db: { path: 'there.sqlite', server: 'sqlite::memory:' } } }, { baseDir: dir }));
    expect(both.path).toBe('databases.db.path');
    expect(both.message).toMatch(/together with "server"/);
    await rm(dir, { recursive: true, force: true });
  });

  it('validates enable_client_sync and resolves the users file and TLS files against the config file', async () => {
    expect(errorOf(() => parseServerConfig({ databases: { db: { enable_client_sync: 'sideways' } } })).path).toBe('databases.db.enable_client_sync');
    for (const v of ['pull', 'push', 'bidirectional', true, false]) expect(parseServerConfig({ databases: { db: { enable_client_sync: v } } }).databases.db!.enable_client_sync).toBe(v);
    const dir = await mkdtemp(join(tmpdir(), 'syncline-config-'));
    await writeFile(join(dir, 'users.json'), '{}');
    await writeFile(join(dir, 'c.json'), JSON.stringify({ users: 'users.json', https: { tls_cert_path: 'tls/cert.pem', tls_key_path: '/abs/key.pem' } }));
    const config = await loadConfigFile(join(dir, 'c.json'));
    expect(config.users).toBe(join(dir, 'users.json'));
    expect(config.https).toEqual({ tls_cert_path: join(dir, 'tls/cert.pem'), tls_key_path: '/abs/key.pem' });
    await writeFile(join(dir, 'users.json'), JSON.stringify({ carol: { password: 'plaintext' } }));
    await expect(loadConfigFile(join(dir, 'c.json'))).rejects.toThrow(/user "carol" has a plain-text "password"/);
    expect(await readFile(join(dir, 'users.json'), 'utf8')).toContain('plaintext');
    await rm(dir, { recursive: true, force: true });
  });
});

