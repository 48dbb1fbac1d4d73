import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { del, eventually, getJson, postJson, putJson, request } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

/** About 2.6 seconds: the background compaction then runs every second. */
const PURGE_INTERVAL_DAYS = 0.00003;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ databases: { db: { metadata_purge_interval: PURGE_INTERVAL_DAYS }, slow: {} } });
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
});

interface Change {
  id: string;
  deleted?: boolean;
  changes: Array<{ rev: string }>;
}

const changes = async (db: string): Promise<Change[]> => (await getJson<{ results: Change[] }>(`${server.url}/${db}/_changes?since=0`)).body.results;

/** Rows the storage still holds for a document: its metadata and its changes-log entries. */
function storedRows(db: string, id: string): { meta: number; changes: number } {
  const sqlite = new Database(join(server.dir, `${db}.sqlite`), { readonly: true, fileMustExist: true });
  try {
    const count = (sql: string) => sqlite.prepare<[string], number>(sql).pluck().get(id) ?? 0;
    return { meta: count('SELECT count(*) FROM sync_meta WHERE id = ?'), changes: count('SELECT count(*) FROM changes WHERE doc_id = ?') };
  } finally {
    sqlite.close();
  }
}

describe('metadata_purge_interval', () => {
  it('purges a tombstone after the interval, leaving live and recreated documents alone', async () => {
    const db = `${server.url}/db`;
    const live = await putJson(`${db}/live`, { keep: true });
    const doomed = await putJson(`${db}/doomed`, { v: 1 });
    const deleted = await del(`${db}/doomed?rev=${doomed.body.rev}`);
    expect(deleted.status).toBe(200);
    const phoenix = await putJson(`${db}/phoenix`, { v: 1 });
    await del(`${db}/phoenix?rev=${phoenix.body.rev}`);
    const reborn = await putJson(`${db}/phoenix`, { v: 2 });
    expect(reborn.status).toBe(201);

    const before = await changes('db');
    expect(before.find((c) => c.id === 'doomed')).toMatchObject({ deleted: true, changes: [{ rev: deleted.body.rev }] });
    expect((await getJson(`${db}/doomed?rev=${deleted.body.rev}`)).body).toMatchObject({ _id: 'doomed', _deleted: true });
    const openRevUrl = `${db}/doomed?open_revs=${encodeURIComponent(JSON.stringify([deleted.body.rev]))}`;
    expect((await getJson(openRevUrl)).body).toMatchObject([{ ok: { _id: 'doomed', _rev: deleted.body.rev, _deleted: true } }]);
    expect(storedRows('db', 'doomed')).toEqual({ meta: 1, changes: 1 });

    await eventually(async () => !(await changes('db')).some((c) => c.id === 'doomed'));
    expect((await getJson(`${db}/doomed?rev=${deleted.body.rev}`)).status).toBe(404);
    expect((await getJson(`${db}/doomed?open_revs=all`)).status).toBe(404);
    expect((await getJson(openRevUrl)).body).toEqual([{ missing: deleted.body.rev }]);
    expect((await getJson(`${db}/doomed`)).status).toBe(404);
    expect(storedRows('db', 'doomed')).toEqual({ meta: 0, changes: 0 });

    const after = await changes('db');
    expect(after.map((c) => c.id).sort()).toEqual(['live', 'phoenix']);
    expect((await getJson(`${db}/live`)).body).toMatchObject({ _rev: live.body.rev, keep: true });
    expect((await getJson(`${db}/phoenix`)).body).toMatchObject({ _rev: reborn.body.rev, v: 2 });
    expect(storedRows('db', 'phoenix')).toEqual({ meta: 1, changes: 1 });

    const again = await putJson(`${db}/doomed`, { v: 'again' });
    expect(again.status).toBe(201);
    expect(again.body.rev.startsWith('1-')).toBe(true);
  });

  it('keeps tombstones younger than the default interval', async () => {
    const db = `${server.url}/slow`;
    const doc = await putJson(`${db}/young`, { v: 1 });
    await del(`${db}/young?rev=${doc.body.rev}`);
    const compacted = await request('POST', `${server.adminUrl}/slow/_compact?type=tombstone`);
    expect(compacted.status).toBe(200);
    expect(compacted.body).toMatchObject({ status: 'completed', last_error: '', docs_purged: 0 });
    expect((await changes('slow')).find((c) => c.id === 'young')).toMatchObject({ deleted: true });
  });
});

describe('POST and GET /{db}/_compact', () => {
  it('answers with Sync Gateway status shapes, tombstone compaction being the default type', async () => {
    const admin = `${server.adminUrl}/slow`;
    const bare = await postJson(`${admin}/_compact`, {});
    expect(bare.status).toBe(200);
    expect(bare.body).toEqual({ status: 'completed', start_time: expect.any(String), last_error: '', docs_purged: 0 });
    expect(Number.isNaN(Date.parse(bare.body.start_time))).toBe(false);
    expect((await getJson(`${admin}/_compact`)).body).toEqual(bare.body);
    expect((await getJson(`${admin}/_compact?type=tombstone`)).body).toEqual(bare.body);

    expect((await getJson(`${admin}/_compact?type=attachment`)).body).toMatchObject({ status: 'stopped', purged_attachments: 0 });
    const attachments = await request('POST', `${admin}/_compact?type=attachment&action=start`);
    expect(attachments.status).toBe(200);
    expect(attachments.body).toMatchObject({ status: 'completed', last_error: '', marked_attachments: expect.any(Number), purged_attachments: 0, compact_id: expect.any(String) });
    expect((await getJson(`${admin}/_compact?type=attachment`)).body).toEqual(attachments.body);

    const stop = await request('POST', `${admin}/_compact?action=stop`);
    expect(stop.status).toBe(400);
    expect(stop.body).toEqual({ error: 'bad_request', reason: 'Database compact is not running' });
  });

  it('refuses unknown types and actions, and the public port', async () => {
    const admin = `${server.adminUrl}/slow`;
    for (const query of ['type=views', 'action=pause', 'type=attachment&dry_run=maybe']) {
      const res = await request('POST', `${admin}/_compact?${query}`);
      expect(res.status).toBe(400);
    }
    expect((await getJson(`${admin}/_compact?type=views`)).status).toBe(400);
    expect((await getJson(`${server.url}/slow/_compact`)).status).toBe(403);
    expect((await request('POST', `${server.url}/slow/_compact?type=tombstone`)).status).toBe(403);
  });
});
