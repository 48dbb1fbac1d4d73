/**
 * A server app writing Syncline's documents table directly, in a process of its own with its own
 * better-sqlite3 connection: the statements are the ones the README documents for apps.
 *
 * Run as `node --import tsx test/support/app-writer.ts`; the job comes as JSON on stdin (`AppJob`), and the
 * process prints one JSON line per committed transaction (`{"committed": N, "at": epochMs}`) then `{"done": true}`.
 * Used in-process, `runAppJob` spawns it and resolves when it exits.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import BetterSqlite from 'better-sqlite3';

export type AppOp =
  | { op: 'insert'; id: string; body: string }
  | { op: 'update'; id: string; body: string }
  | { op: 'upsert'; id: string; body: string }
  | { op: 'delete'; id: string };

export interface AppJob {
  /** The SQLite file of the database. */
  file: string;
  /** Documents table (default `documents`). */
  table?: string;
  /** Each inner list is one transaction. */
  transactions: AppOp[][];
  /** Pause between transactions, in milliseconds. */
  pauseMs?: number;
}

export interface AppJobResult {
  /** Epoch ms at which each transaction committed, in order. */
  committedAt: number[];
}

const SQL = {
  insert: (t: string) => `INSERT INTO ${t} (id, body) VALUES (?, ?)`,
  update: (t: string) => `UPDATE ${t} SET body = ? WHERE id = ?`,
  upsert: (t: string) => `INSERT INTO ${t} (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body`,
  delete: (t: string) => `DELETE FROM ${t} WHERE id = ?`,
} as const;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function run(job: AppJob): void {
  const db = new BetterSqlite(job.file, { timeout: 10_000 });
  try {
    const table = `"${(job.table ?? 'documents').replaceAll('"', '""')}"`;
    const insert = db.prepare<[string, string]>(SQL.insert(table));
    const update = db.prepare<[string, string]>(SQL.update(table));
    const upsert = db.prepare<[string, string]>(SQL.upsert(table));
    const remove = db.prepare<[string]>(SQL.delete(table));
    const apply = db.transaction((ops: AppOp[]) => {
      for (const op of ops) {
        switch (op.op) {
          case 'insert':
            insert.run(op.id, op.body);
            break;
          case 'update':
            if (update.run(op.body, op.id).changes !== 1) throw new Error(`update of ${op.id}: no such row`);
            break;
          case 'upsert':
            upsert.run(op.id, op.body);
            break;
          case 'delete':
            if (remove.run(op.id).changes !== 1) throw new Error(`delete of ${op.id}: no such row`);
            break;
        }
      }
    });
    for (const [i, ops] of job.transactions.entries()) {
      if (i > 0 && job.pauseMs) sleep(job.pauseMs);
      apply.immediate(ops);
      process.stdout.write(`${JSON.stringify({ committed: i, at: Date.now() })}\n`);
    }
    process.stdout.write(`${JSON.stringify({ done: true })}\n`);
  } finally {
    db.close();
  }
}

const SELF = fileURLToPath(import.meta.url);
const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** Runs a job in a separate `node` process; rejects if it fails. */
export function runAppJob(job: AppJob): Promise<AppJobResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SELF], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const committedAt: number[] = [];
    let done = false;
    let stderr = '';
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as { committed?: number; at?: number; done?: boolean };
      if (message.at !== undefined) committedAt.push(message.at);
      if (message.done) done = true;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0 && done) resolve({ committedAt });
      else reject(new Error(`app writer exited with ${code}: ${stderr}`));
    });
    child.stdin.end(JSON.stringify(job));
  });
}

if (process.argv[1] === SELF) {
  const chunks: Buffer[] = [];
  process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
  process.stdin.on('end', () => run(JSON.parse(Buffer.concat(chunks).toString('utf8')) as AppJob));
}
