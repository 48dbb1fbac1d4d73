/**
 * TLS end to end: `syncline cert create` writes a self-signed pair and prints the certificate and its SHA-256
 * fingerprint; a server with `https` serves the public and admin REST APIs over HTTPS and replication over
 * WSS; the client Replicator pinning that certificate (by fingerprint or PEM) replicates, and one pinning
 * another certificate stops at once with a clear, permanent error.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, ReplicationError, Replicator } from '@syncline/client';
import { runCli, startConfigServer, type ConfigServer } from '../support/config-server.ts';
import { eventually, request } from '../support/rest.ts';
import { startTestServer } from '../support/server-process.ts';

const ALICE = { username: 'alice', password: 'alicepass' };

let dir: string;
let server: ConfigServer;
let certPem: string;
let fingerprint: string;
let otherFingerprint: string;
let createOutput: string;

/** One HTTPS request trusting `ca`: status and parsed JSON body. */
function httpsJson(method: string, url: string, ca: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(url, { method, ca, headers: { Accept: 'application/json', ...(payload ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncline-tls-'));
  const made = runCli(['cert', 'create', '--out', join(dir, 'certs')]);
  expect(made.status, made.stderr).toBe(0);
  createOutput = made.stdout;
  certPem = await readFile(join(dir, 'certs', 'cert.pem'), 'utf8');
  fingerprint = /SHA256 Fingerprint=([0-9A-F:]+)/.exec(createOutput)![1]!;
  const other = runCli(['cert', 'create', '--out', join(dir, 'other'), '--host', 'localhost', '--days', '2']);
  expect(other.status, other.stderr).toBe(0);
  otherFingerprint = /SHA256 Fingerprint=([0-9A-F:]+)/.exec(other.stdout)![1]!;

  const config = {
    interface: '127.0.0.1:0',
    adminInterface: '127.0.0.1:0',
    metricsInterface: '',
    https: { tls_cert_path: 'certs/cert.pem', tls_key_path: 'certs/key.pem' },
    databases: { db: { server: `sqlite:${join(dir, 'db.sqlite')}`, users: { alice: { password: ALICE.password, admin_channels: ['*'] } } } },
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  server = await startConfigServer(join(dir, 'config.json'), tmpdir());
  for (let i = 0; i < 5; i++) {
    const res = await httpsJson('PUT', `${server.adminUrl}/db/doc-${i}`, certPem, { channels: ['a'], n: i });
    expect(res.status).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const replicate = async (pinnedCert: string | undefined) => {
  const store = new MemoryStore();
  const repl = new Replicator({ url: `${server.url}/db`, db: store, type: 'pull', auth: ALICE, retry: { maxAttempts: 1 }, ...(pinnedCert ? { pinnedCert } : {}) });
  repl.start();
  return { status: await repl.whenStopped(), store };
};

describe('syncline cert create', () => {
  it('writes a self-signed certificate for localhost and 127.0.0.1 and prints it with its SHA-256 fingerprint', () => {
    const x509 = new X509Certificate(certPem);
    expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(x509.issuer).toBe(x509.subject);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(createOutput).toContain(certPem.trim());
    expect(fingerprint).toBe(x509.fingerprint256);
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(otherFingerprint).not.toBe(fingerprint);
  });
});

describe('a server with https', () => {
  it('serves the public and admin REST APIs over HTTPS', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.adminUrl).toMatch(/^https:/);
    const info = await httpsJson('GET', `${server.url}/`, certPem);
    expect(info.status).toBe(200);
    const doc = await httpsJson('GET', `${server.adminUrl}/db/doc-1`, certPem);
    expect(doc).toMatchObject({ status: 200, body: { n: 1 } });
    // Without the certificate as a CA, the self-signed certificate is refused by the client.
    await expect(fetch(`${server.url}/`)).rejects.toThrow();
  });

  it('replicates over WSS to a Replicator pinning the certificate by its fingerprint', async () => {
    const { status, store } = await replicate(fingerprint);
    expect(status.error).toBeUndefined();
    expect(store.docIds.sort()).toEqual(['doc-0', 'doc-1', 'doc-2', 'doc-3', 'doc-4']);
  });

  it('replicates over WSS to a Replicator pinning the certificate PEM (or a lower-case fingerprint without colons)', async () => {
    const byPem = await replicate(certPem);
    expect(byPem.status.error).toBeUndefined();
    expect(byPem.store.docIds).toHaveLength(5);
    const byHex = await replicate(fingerprint.replaceAll(':', '').toLowerCase());
    expect(byHex.status.error).toBeUndefined();
  });

  it('stops a Replicator pinning another certificate with a clear, permanent error', async () => {
    const { status, store } = await replicate(otherFingerprint);
    expect(status.state).toBe('stopped');
    expect(status.error).toBeInstanceOf(ReplicationError);
    expect((status.error as ReplicationError).permanent).toBe(true);
    expect(status.error!.message).toMatch(/TLS certificate pinning failed: the server's TLS certificate \(SHA-256 [0-9A-F:]+\) is not the pinned certificate/);
    expect(status.error!.message).toContain(fingerprint);
    expect(store.docIds).toEqual([]);
  });

  it('refuses the self-signed certificate without a pin', async () => {
    const { status } = await replicate(undefined);
    expect(status.error?.message).toMatch(/self.signed|certificate/i);
  });
});

describe('server-to-server replication over WSS', () => {
  it('pulls from the TLS server with pinned_cert, and reports a replication pinning another certificate as an error', async () => {
    await using local = await startTestServer({ logLevel: 'warn' });
    const remote = { remote: `${server.url}/db`, username: ALICE.username, password: ALICE.password, direction: 'pull' };
    const pinned = await request('PUT', `${local.adminUrl}/db/_replication/from-tls`, { ...remote, continuous: true, pinned_cert: fingerprint });
    expect(pinned.status).toBe(201);
    await eventually(async () => (await request('GET', `${local.adminUrl}/db/_all_docs`)).body.rows?.length === 5);

    const wrong = await request('PUT', `${local.adminUrl}/db/_replication/wrong-pin`, { ...remote, pinned_cert: otherFingerprint });
    expect(wrong.status).toBe(201);
    const failed = await eventually(async () => {
      const res = await request('GET', `${local.adminUrl}/db/_replicationStatus/wrong-pin`);
      return res.body?.last_error && res.body.status !== 'running' ? res.body : undefined;
    });
    expect(failed.last_error).toMatch(/pinning failed/);

    const invalid = await request('PUT', `${local.adminUrl}/db/_replication/bad-pin`, { ...remote, pinned_cert: 'not-a-fingerprint' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.reason).toContain('pinned_cert');
  });
});
