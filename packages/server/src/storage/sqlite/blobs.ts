import type Database from 'better-sqlite3';

type Db = Database.Database;

const asBuffer = (data: Uint8Array): Buffer =>
  Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/** Content-addressed blobs: a digest is written once, so puts are idempotent. */
export class SqliteBlobs {
  readonly #put;
  readonly #get;
  readonly #has;
  readonly #delete;
  readonly #list;

  constructor(db: Db) {
    this.#put = db.prepare<[string, Buffer]>('INSERT OR IGNORE INTO blobs (digest, data) VALUES (?, ?)');
    this.#get = db.prepare<[string], Buffer>('SELECT data FROM blobs WHERE digest = ?').pluck();
    this.#has = db.prepare<[string], number>('SELECT 1 FROM blobs WHERE digest = ?').pluck();
    this.#delete = db.prepare<[string]>('DELETE FROM blobs WHERE digest = ?');
    this.#list = db.prepare<[], string>('SELECT digest FROM blobs ORDER BY digest').pluck();
  }

  put(digest: string, data: Uint8Array): void {
    this.#put.run(digest, asBuffer(data));
  }

  get(digest: string): Uint8Array | null {
    const data = this.#get.get(digest);
    return data === undefined ? null : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  has(digest: string): boolean {
    return this.#has.get(digest) !== undefined;
  }

  delete(digest: string): void {
    this.#delete.run(digest);
  }

  list(): string[] {
    return this.#list.all();
  }
}
