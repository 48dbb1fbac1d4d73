import type Database from 'better-sqlite3';
import { partitionSql } from './partition.ts';
import { q, type CollectionTables } from './schema.ts';

const TRIGGERS = ['after_insert', 'after_update', 'after_rename', 'after_delete'] as const;

/** Epoch milliseconds in plain SQL (for the import lag). */
const NOW_MS = `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;

function mutationInsert(t: CollectionTables, partitions: number, idExpr: string, casExpr: string, opExpr: string): string {
  const partition = partitions === 1 ? '0' : partitionSql(idExpr, partitions);
  return `INSERT INTO ${q(t.mutations)} ("partition", doc_id, cas, op, at) VALUES (${partition}, ${idExpr}, ${casExpr}, ${opExpr}, ${NOW_MS});`;
}

/**
 * The documents-table triggers. Plain SQL only, so that any SQLite client writing the table gets cas stamps
 * and mutation-log entries. Every INSERT or UPDATE of id/body takes the next value of the bucket-wide counter
 * as the row's cas. A writer that already knows that value (the gateway, holding the write lock) sets it in
 * the same statement, which saves rewriting the row; any other cas is overwritten. The stamping UPDATE touches
 * only `cas`, so the `UPDATE OF id, body` trigger does not fire for it (and recursive_triggers stays off).
 */
export function triggersDdl(t: CollectionTables, partitions: number): string {
  const docs = q(t.documents);
  const stamp = `UPDATE counters SET cas = cas + 1;
    UPDATE ${docs} SET cas = (SELECT cas FROM counters) WHERE rowid = NEW.rowid AND NEW.cas IS NOT (SELECT cas FROM counters);`;
  const newCas = '(SELECT cas FROM counters)';
  const name = (suffix: string): string => q(`${t.documents}_${suffix}`);
  return `
CREATE TRIGGER IF NOT EXISTS ${name('after_insert')} AFTER INSERT ON ${docs} BEGIN
  ${stamp}
  ${mutationInsert(t, partitions, 'NEW.id', newCas, `'insert'`)}
END;
CREATE TRIGGER IF NOT EXISTS ${name('after_update')} AFTER UPDATE OF id, body ON ${docs} BEGIN
  ${stamp}
  ${mutationInsert(t, partitions, 'NEW.id', newCas, `CASE WHEN OLD.id IS NEW.id THEN 'update' ELSE 'insert' END`)}
END;
CREATE TRIGGER IF NOT EXISTS ${name('after_rename')} AFTER UPDATE OF id ON ${docs}
WHEN OLD.id IS NOT NEW.id BEGIN
  ${mutationInsert(t, partitions, 'OLD.id', 'NULL', `'delete'`)}
END;
CREATE TRIGGER IF NOT EXISTS ${name('after_delete')} AFTER DELETE ON ${docs} BEGIN
  ${mutationInsert(t, partitions, 'OLD.id', 'NULL', `'delete'`)}
END;
`;
}

/** Drops and recreates a collection's triggers in their current form (for buckets made by older versions). */
export function replaceTriggers(db: Database.Database, t: CollectionTables, partitions: number): void {
  for (const suffix of TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${q(`${t.documents}_${suffix}`)}`);
  db.exec(triggersDdl(t, partitions));
}
