import PouchDB from 'pouchdb';
import memoryAdapter from 'pouchdb-adapter-memory';

PouchDB.plugin(memoryAdapter);

let counter = 0;

/** A fresh in-memory PouchDB database (the real PouchDB from npm, memory adapter). */
export function memoryPouch(name = 'local'): PouchDB.Database {
  return new PouchDB(`${name}-${process.pid}-${++counter}`, { adapter: 'memory' });
}

export function remotePouch(url: string): PouchDB.Database {
  return new PouchDB(url);
}

export { PouchDB };
