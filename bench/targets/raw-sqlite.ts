import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

let fileCounter = 0;

/**
 * The storage ceiling: better-sqlite3 in-process, one fresh on-disk file per
 * workload, WAL + synchronous=FULL, table (id TEXT PRIMARY KEY, body TEXT).
 */
export class RawSqlite {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<[string, string]>;

  private constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec('CREATE TABLE docs (id TEXT PRIMARY KEY, body TEXT NOT NULL)');
    this.#insert = this.#db.prepare('INSERT INTO docs (id, body) VALUES (?, ?)');
  }

  static create(tmpRoot: string, name: string): RawSqlite {
    const dir = path.join(tmpRoot, 'raw-sqlite');
    mkdirSync(dir, { recursive: true });
    fileCounter += 1;
    return new RawSqlite(path.join(dir, `${name}-${fileCounter}.sqlite`));
  }

  /** One transaction (an implicit one) per row. */
  insertOne(id: string, doc: object): void {
    this.#insert.run(id, JSON.stringify(doc));
  }

  /** One explicit transaction for the whole batch. */
  insertBatch(rows: ReadonlyArray<readonly [string, object]>): void {
    this.#db.transaction(() => {
      for (const [id, doc] of rows) this.#insert.run(id, JSON.stringify(doc));
    })();
  }

  count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM docs').get() as { n: number }).n;
  }

  close(): void {
    this.#db.close();
  }
}

export function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  } finally {
    db.close();
  }
}
