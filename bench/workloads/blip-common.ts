/** What the BLIP sections share: GUEST-open databases created on demand, and running a one-shot replicator. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Replicator } from '@syncline/client';
import { track } from '../cleanup.ts';
import { describeFailure, type HttpClient } from '../http-client.ts';
import type { Progress } from './common.ts';

/** Unauthenticated requests act as GUEST; the sections' databases let GUEST read and write everything. */
/** The throughput rows of the BLIP sections, each measured the same way with documents of their own. */
export type Row = 'blipPull' | 'restPull' | 'blipPush';

export const ROWS: ReadonlyArray<{ key: Row; label: string }> = [
  { key: 'blipPull', label: 'BLIP pull (one-shot, into MemoryStore)' },
  { key: 'restPull', label: 'REST pull (one-shot, PouchDB.replicate into memory db)' },
  { key: 'blipPush', label: 'BLIP push (one-shot, MemoryStore to a fresh db)' },
];

export const OPEN_GUEST = { users: { GUEST: { disabled: false, admin_channels: ['*'] } } } as const;

export async function docCount(admin: HttpClient, db: string): Promise<number> {
  const res = await admin.json<{ doc_count?: number }>('GET', `/${db}/`);
  if (res.status !== 200) throw new Error(`GET /${db}/: HTTP ${res.status}`);
  return res.data.doc_count ?? 0;
}

/**
 * `ensureDb(admin, db)` creates the database with `PUT /{db}/` on the admin API (GUEST open, an SQLite file
 * in a temp dir made on first use and removed at exit) if missing, and returns its doc count.
 */
export function databaseMaker(tempPrefix: string): (admin: HttpClient, db: string) => Promise<number> {
  let dir: string | undefined;
  const tempDir = (): string => {
    if (dir) return dir;
    const made = mkdtempSync(path.join(os.tmpdir(), tempPrefix));
    const remove = (): void => rmSync(made, { recursive: true, force: true });
    track({ name: `temp dir ${made}`, close: () => Promise.resolve(remove()), closeSync: remove });
    dir = made;
    return made;
  };
  return async (admin, db) => {
    const res = await admin.request('GET', `/${db}/`);
    if (res.status === 200) return docCount(admin, db);
    if (res.status !== 404) throw describeFailure('GET', `/${db}/`, res);
    const body = JSON.stringify({ server: `sqlite:${path.join(tempDir(), `${db}.sqlite`)}`, ...OPEN_GUEST });
    const created = await admin.request('PUT', `/${db}/`, body);
    if (created.status !== 201) throw describeFailure('PUT', `/${db}/`, created);
    return 0;
  };
}

/**
 * Runs a one-shot replicator to the end; throws on a replicator or document error. With `stallMs`, it also
 * stops the replicator and throws when no document has completed for that long (so a stalled replication
 * cannot hang the whole benchmark).
 */
export async function runOnce(repl: Replicator, progress: Progress | undefined, expected: number, stallMs?: number): Promise<number> {
  let done = 0;
  let firstError: string | undefined;
  let stalled: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    stalled = (): void => reject(new Error(`stalled: no document completed for ${(stallMs ?? 0) / 1000} s (${done} of ${expected} done); replicator stopped`));
  });
  const arm = (): void => {
    if (stallMs === undefined) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      void repl.stop();
      stalled?.();
    }, stallMs);
  };
  repl.on('document', (event) => {
    arm();
    if (event.error) {
      firstError ??= `${event.docId}: ${event.error.status} ${event.error.message}`;
      return;
    }
    done += 1;
    progress?.update(done);
  });
  arm();
  repl.start();
  let status: Awaited<ReturnType<Replicator['whenStopped']>>;
  try {
    status = await Promise.race([repl.whenStopped(), watchdog]);
  } finally {
    clearTimeout(timer);
  }
  if (status.error) throw new Error(`replicator stopped with an error: ${status.error.message}`);
  if (firstError !== undefined || status.documentErrors > 0) throw new Error(`${status.documentErrors} document errors (first ${firstError ?? '?'})`);
  if (done !== expected) throw new Error(`replicated ${done} documents, expected ${expected}`);
  return done;
}
