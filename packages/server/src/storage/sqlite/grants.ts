import type Database from 'better-sqlite3';
import type { Grant, GrantRecord } from '../bucket.ts';
import { q, type CollectionTables } from './schema.ts';

type Db = Database.Database;

type GrantRow = [grantee: string, kind: 'channel' | 'role', item: string, docId: string, seq: number, revokedSeq: number | null];

/**
 * The grants index of a collection. Grants are replaced as a set per document inside the commit transaction:
 * standing grants keep the sequence at which they were first made, withdrawn ones are marked revoked (kept so
 * that change feeds can tell a user what it lost), and a grant made again after a revocation starts anew.
 */
export class SqliteGrants {
  readonly #revokeMissing;
  readonly #upsert;
  readonly #deleteOfDoc;
  readonly #read;

  constructor(db: Db, t: CollectionTables) {
    const grants = q(t.grants);
    this.#revokeMissing = db.prepare<[number, string, string]>(
      `UPDATE ${grants} SET revoked_seq = ?
       WHERE doc_id = ? AND revoked_seq IS NULL
         AND (grantee, kind, item) NOT IN (
           SELECT json_extract(g.value, '$[0]'), json_extract(g.value, '$[1]'), json_extract(g.value, '$[2]')
           FROM json_each(?) g)`,
    );
    this.#upsert = db.prepare<[string, string, string, string, number]>(
      `INSERT INTO ${grants} (grantee, kind, item, doc_id, seq, revoked_seq) VALUES (?, ?, ?, ?, ?, NULL)
       ON CONFLICT (grantee, kind, item, doc_id) DO UPDATE SET seq = excluded.seq, revoked_seq = NULL
       WHERE revoked_seq IS NOT NULL`,
    );
    this.#deleteOfDoc = db.prepare<[string]>(`DELETE FROM ${grants} WHERE doc_id = ?`);
    this.#read = db
      .prepare<[string], GrantRow>(
        `SELECT grantee, kind, item, doc_id, seq, revoked_seq FROM ${grants}
         WHERE grantee IN (SELECT value FROM json_each(?)) ORDER BY grantee, kind, item, doc_id`,
      )
      .raw();
  }

  /** Call inside the commit transaction. */
  replace(docId: string, grants: readonly Grant[], seq: number): void {
    this.#revokeMissing.run(seq, docId, JSON.stringify(grants.map((g) => [g.grantee, g.kind, g.item])));
    for (const g of grants) this.#upsert.run(g.grantee, g.kind, g.item, docId, seq);
  }

  /** A purged document leaves no trace, grants included. */
  purge(docId: string): void {
    this.#deleteOfDoc.run(docId);
  }

  read(grantees: readonly string[]): GrantRecord[] {
    return this.#read.all(JSON.stringify(grantees)).map(([grantee, kind, item, docId, seq, revokedSeq]) => ({
      grantee,
      kind,
      item,
      docId,
      seq,
      revokedSeq,
    }));
  }
}
