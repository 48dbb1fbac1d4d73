/**
 * Per-call cost of the sync function: `node --import tsx packages/server/src/channels/sync-function.bench.ts`.
 */
import { DEFAULT_SYNC_FUNCTION, SyncFunction } from './sync-function.ts';
import type { SyncUser } from './sync-function.ts';

const REALISTIC = `function (doc, oldDoc) {
  if (oldDoc && oldDoc.owner !== doc.owner) throw({ forbidden: "owner cannot change" });
  channel("notes", "user-" + doc.owner, "type-" + doc.type);
  access(doc.owner, "user-" + doc.owner);
}`;

const user: SyncUser = { name: 'alice', channels: ['notes', 'user-alice'], roles: ['writer'] };
const doc = {
  _id: 'note-1',
  _rev: '2-abc',
  type: 'note',
  owner: 'alice',
  channels: ['notes', 'user-alice'],
  title: 'Shopping list',
  body: 'Milk, eggs, bread, coffee. '.repeat(8),
  tags: ['home', 'errands'],
  updatedAt: '2024-05-01T10:00:00Z',
};

function measure(label: string, fn: SyncFunction, calls = 20_000): void {
  for (let i = 0; i < 2_000; i++) fn.run(doc, doc, {}, user);
  const started = performance.now();
  for (let i = 0; i < calls; i++) fn.run(doc, doc, {}, user);
  const micros = ((performance.now() - started) * 1000) / calls;
  console.log(`${label.padEnd(40)} ${micros.toFixed(1).padStart(7)} µs/call`);
}

function compileTimed(label: string): SyncFunction {
  const started = performance.now();
  const fn = SyncFunction.compile(REALISTIC, { dbName: 'bench' });
  console.log(`${label.padEnd(40)} ${(performance.now() - started).toFixed(1).padStart(7)} ms`);
  return fn;
}

compileTimed('compile, first in the process').dispose();
const realistic = compileTimed('compile (runtime + underscore + source)');
const nativeDefault = SyncFunction.compile(DEFAULT_SYNC_FUNCTION, { dbName: 'bench' });
const sandboxedDefault = SyncFunction.compile(DEFAULT_SYNC_FUNCTION, { dbName: 'bench', nativeDefault: false });

measure('default function, native fast path', nativeDefault, 200_000);
measure('default function, sandboxed', sandboxedDefault);
measure('3 channels + 1 access grant, sandboxed', realistic);
for (const fn of [realistic, nativeDefault, sandboxedDefault]) fn.dispose();
