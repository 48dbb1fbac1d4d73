import { expect } from 'vitest';
import { getJson } from './rest.ts';

export interface ChangeRow {
  seq: number;
  id: string;
  changes: Array<{ rev: string }>;
  deleted?: boolean;
}

export interface DatabaseSnapshot {
  /** Live documents by id, with their current revision. */
  live: Map<string, string>;
  /** Every document of the changes feed (live and deleted) by id, with its current revision. */
  changed: Map<string, { rev: string; deleted: boolean }>;
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

/** Percent-encodes a document id for a URL path; a design document keeps its "_design/" prefix as two segments. */
export function docPath(id: string): string {
  return id.startsWith('_design/') ? `_design/${encodeURIComponent(id.slice('_design/'.length))}` : encodeURIComponent(id);
}

/**
 * Checks that a database's views of its documents agree: every `_all_docs` row reads back with its revision,
 * `_changes` since 0 lists each document once with its current revision (live ones exactly as `_all_docs`
 * has them), and `doc_count` and `total_rows` count the live documents.
 */
export async function expectConsistent(dbUrl: string, concurrency = 6): Promise<DatabaseSnapshot> {
  const all = await getJson<{ total_rows: number; rows: Array<{ id: string; value: { rev: string } }> }>(`${dbUrl}/_all_docs`);
  expect(all.status, JSON.stringify(all.body)).toBe(200);
  const rows = all.body.rows;
  const live = new Map(rows.map((r) => [r.id, r.value.rev]));
  expect(live.size).toBe(rows.length);

  await eachLimited(rows, concurrency, async (row) => {
    const doc = await getJson(`${dbUrl}/${docPath(row.id)}`);
    expect({ id: row.id, status: doc.status, rev: doc.body?._rev }).toEqual({ id: row.id, status: 200, rev: row.value.rev });
  });

  const changes = await getJson<{ results: ChangeRow[] }>(`${dbUrl}/_changes?since=0`);
  expect(changes.status).toBe(200);
  const counts = new Map<string, number>();
  for (const change of changes.body.results) counts.set(change.id, (counts.get(change.id) ?? 0) + 1);
  expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
  const changed = new Map(changes.body.results.map((c) => [c.id, { rev: c.changes[0]!.rev, deleted: c.deleted === true }]));
  const liveChanges = new Map([...changed].filter(([, c]) => !c.deleted).map(([id, c]) => [id, c.rev]));
  expect(liveChanges).toEqual(live);

  const info = await getJson(`${dbUrl}/`);
  expect(info.status).toBe(200);
  expect(info.body.doc_count).toBe(rows.length);
  expect(all.body.total_rows).toBe(rows.length);
  return { live, changed };
}
