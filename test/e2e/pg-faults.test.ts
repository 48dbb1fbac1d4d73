import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, freePort, startPostgres, type TestPostgres } from '../support/postgres.ts';
import { eventually, request } from '../support/rest.ts';
import { OPEN_GUEST, startTestServer } from '../support/server-process.ts';

const BIN = resolve(import.meta.dirname, '../../packages/server/bin/syncline.js');

/** Runs `syncline serve` on a config and returns how it ended (it is expected to fail at start). */
async function serveAndExit(config: unknown): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'syncline-pgfault-'));
  try {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(config));
    const child = spawn(process.execPath, [BIN, 'serve', '--config', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        done(c);
      });
    });
    return { code, stderr, stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let pgs: TestPostgres;

beforeAll(async () => {
  // Its own server, since this file stops and restarts it.
  pgs = await startPostgres({ embedded: true });
});

afterAll(async () => {
  await pgs?.close();
});

describe('PostgreSQL faults', () => {
  it('refuses to start with a wrong password, naming the problem but not the password, and exits non-zero', async () => {
    const good = new URL(await pgs.createDatabase('faults'));
    good.password = 'not-the-password-xyz';
    const result = await serveAndExit({ databases: { db: { server: good.toString() } } });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    const text = result.stderr + result.stdout;
    expect(text).toMatch(/authentication failed/i);
    expect(text).not.toContain('not-the-password-xyz');
  });

  it('refuses to start when the PostgreSQL server cannot be reached', async () => {
    const port = await freePort();
    const result = await serveAndExit({ databases: { db: { server: `postgresql://postgres:secret-pw@127.0.0.1:${port}/nothing` } } });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    const text = result.stderr + result.stdout;
    expect(text).toMatch(/cannot connect|ECONNREFUSED/i);
    expect(text).not.toContain('secret-pw');
  });

  it('answers 503 while PostgreSQL is down, then resumes without losing an acknowledged write', async () => {
    const dbUrl = await pgs.createDatabase('restart');
    const server = await startTestServer({
      logLevel: 'error',
      databases: { db: { server: dbUrl, enable_shared_bucket_access: true, users: OPEN_GUEST } },
    });
    const acknowledged = new Set<string>();
    const statuses = new Map<number, number>();
    let writing = true;
    let n = 0;
    const load = (async () => {
      while (writing) {
        const id = `w-${n++}`;
        try {
          const res = await request('PUT', `${server.url}/db/${id}`, { n });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 201) acknowledged.add(id);
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1);
        }
        if (!writing) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await eventually(async () => acknowledged.size >= 50);
      await pgs.stop();
      // While the database is down, requests get 503 (not 500, not a hang, not a crash).
      const down = await eventually(async () => {
        const res = await request('GET', `${server.url}/db/w-0`);
        return res.status === 503 ? res : undefined;
      }, 20_000, 100);
      expect(down.body).toMatchObject({ error: 'service_unavailable' });
      const ackedWhileDown = acknowledged.size;
      await new Promise((r) => setTimeout(r, 500));
      await pgs.start();
      // Writes are accepted again once it is back.
      await eventually(async () => acknowledged.size > ackedWhileDown + 20, 30_000, 100);
      writing = false;
      await load;
      expect(statuses.get(500) ?? 0).toBe(0);
      expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
      // Every acknowledged write is there.
      const keys = [...acknowledged];
      const all = await request('POST', `${server.adminUrl}/db/_all_docs`, { keys });
      const missing = all.body.rows.filter((r: { error?: string }) => r.error).map((r: { key: string }) => r.key);
      expect(missing).toEqual([]);
      // Import resumed too: an SQL write after the restart reaches the feed.
      const client = new pg.Client({ connectionString: databaseUrl(dbUrl, new URL(dbUrl).pathname.slice(1)) });
      await client.connect();
      await client.query(`INSERT INTO db.documents (id, body) VALUES ('after-restart', '{"sql": true}')`);
      await client.end();
      await eventually(async () => (await request('GET', `${server.url}/db/after-restart`)).status === 200, 20_000, 100);
      expect(server.process.exitCode).toBeNull();
    } finally {
      writing = false;
      await load;
      await server.stop();
    }
  });
});
