import { createRequire } from 'node:module';

// pouchdb ships no type declarations; only the small surface used here is typed.
const require = createRequire(import.meta.url);

export interface ReplicationInfo {
  ok: boolean;
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
  errors: unknown[];
}

export interface Replication extends PromiseLike<ReplicationInfo> {
  on(event: 'change', listener: (info: ReplicationInfo) => void): Replication;
  cancel(): void;
}

export interface PouchDatabase {
  bulkDocs(docs: readonly object[]): Promise<Array<{ ok?: boolean; error?: boolean | string }>>;
  info(): Promise<{ doc_count: number }>;
  destroy(): Promise<unknown>;
}

interface PouchStatic {
  new (name: string, options?: { adapter?: string }): PouchDatabase;
  plugin(plugin: unknown): PouchStatic;
  replicate(source: string | PouchDatabase, target: string | PouchDatabase, options?: object): Replication;
}

const PouchDB = (require('pouchdb') as PouchStatic).plugin(require('pouchdb-adapter-memory'));

let counter = 0;

export function memoryDatabase(label: string): PouchDatabase {
  counter += 1;
  return new PouchDB(`${label}-${process.pid}-${counter}`, { adapter: 'memory' });
}

export function replicate(source: string | PouchDatabase, target: string | PouchDatabase): Replication {
  return PouchDB.replicate(source, target);
}
