import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../packages/server/bin/syncline.js');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'syncline-cli-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('syncline command line', () => {
  it('prints its version and help', () => {
    const version = run('--version');
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = run('serve', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--config');
  });

  it('refuses a bad config with a non-zero exit and the offending field', async () => {
    const dir = await tempDir();
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ databases: { db: { revs_limit: 'lots' } } }));
    const result = run('serve', '--config', file);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('databases.db.revs_limit');
  });

  it('refuses a database whose storage cannot be opened, naming it', async () => {
    const dir = await tempDir();
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ interface: '127.0.0.1:0', adminInterface: '127.0.0.1:0', databases: { db: { server: 'mysql://x' } } }));
    const result = run('serve', '--config', file);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('databases.db.server');
  });
});
