import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectCouchError } from '../support/couch-error.ts';
import { getJson, postJson, putJson, request, type JsonResponse } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const MAX_DOC = 1000;
const MAX_ATT = 2000;

let server: TestServer;
let db: string;
/** Every document id a test expects the server to have stored; the last test checks the database holds exactly these. */
const stored = new Set<string>();

beforeAll(async () => {
  server = await startTestServer({ databases: { db: { max_document_size: MAX_DOC, max_attachment_size: MAX_ATT } } });
  db = `${server.url}/db`;
});

afterAll(async () => {
  await server[Symbol.asyncDispose]();
});

afterEach(async () => {
  expect(server.process.exitCode).toBeNull();
  expect(server.process.signalCode).toBeNull();
  expect((await getJson(`${server.url}/`)).status).toBe(200);
});

const json = { 'Content-Type': 'application/json' };
const send = (method: string, url: string, body?: string | Uint8Array, headers: Record<string, string> = json) =>
  request(method, url, body, headers);

async function updateSeq(): Promise<number> {
  const info = await getJson<{ update_seq: number }>(`${db}/`);
  expect(info.status).toBe(200);
  return info.body.update_seq;
}

/** Runs requests that must all be refused, and checks none of them changed the database. */
async function expectNothingWritten(run: () => Promise<void>): Promise<void> {
  const before = await updateSeq();
  await run();
  expect(await updateSeq()).toBe(before);
}

async function create(id: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await putJson(`${db}/${encodeURIComponent(id)}`, body);
  expect(res.status).toBe(201);
  stored.add(id);
  return res.body.rev as string;
}

describe('malformed JSON bodies', () => {
  const endpoints: Array<[string, string]> = [
    ['PUT', '/doc-json'],
    ['POST', '/'],
    ['POST', '/_bulk_docs'],
    ['POST', '/_bulk_get'],
    ['POST', '/_revs_diff'],
    ['POST', '/_all_docs'],
    ['POST', '/_changes'],
    ['PUT', '/_local/checkpoint'],
  ];

  it.each(endpoints)('%s %s answers 400 bad_request to a body that is not JSON', async (method, path) => {
    await expectNothingWritten(async () => {
      for (const body of ['{bad', '{"a":1', '', '\u00ff\u00fe{}', 'nul', '{"a":1}}']) {
        expectCouchError(await send(method, `${db}${path}`, body), 400, 'bad_request');
      }
    });
  });

  it.each([['[1]'], ['5'], ['"text"'], ['null'], ['true'], ['[]']])('refuses the document %s because it is not a JSON object', async (body) => {
    await expectNothingWritten(async () => {
      expectCouchError(await send('PUT', `${db}/not-object`, body), 400, 'bad_request');
      expectCouchError(await send('POST', `${db}/`, body), 400, 'bad_request');
      expectCouchError(await send('PUT', `${db}/_local/not-object`, body), 400, 'bad_request');
    });
  });

  it('refuses JSON nested too deeply to store with 400 instead of failing inside the server', async () => {
    const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    await expectNothingWritten(async () => {
      expectCouchError(await send('PUT', `${db}/deep`, `{"a":${deep(100_000)}}`), 400, 'bad_request');
      expectCouchError(await send('POST', `${db}/`, `{"a":${deep(100_000)}}`), 400, 'bad_request');
      expectCouchError(await send('POST', `${db}/_bulk_docs`, `{"docs":[{"_id":"deep","a":${deep(100_000)}}]}`), 400, 'bad_request');
      expectCouchError(await send('PUT', `${db}/_local/deep`, `{"a":${deep(100_000)}}`), 400, 'bad_request');
      expectCouchError(await send('POST', `${db}/_changes`, `{"since":${deep(100_000)}}`), 400, 'bad_request');
      expectCouchError(await send('POST', `${db}/_revs_diff`, `{"deep":${deep(100_000)}}`), 400, 'bad_request');
    });
    expect((await getJson(`${db}/_local/deep`)).status).toBe(404);
  });
});

describe('content types', () => {
  const refused = ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'image/png'];
  const endpoints: Array<[string, string, string]> = [
    ['PUT', '/ct-doc', '{"a":1}'],
    ['POST', '/', '{"a":1}'],
    ['POST', '/_bulk_docs', '{"docs":[{"_id":"ct-bulk"}]}'],
    ['POST', '/_bulk_get', '{"docs":[{"id":"x"}]}'],
    ['POST', '/_revs_diff', '{"x":["1-a"]}'],
    ['POST', '/_all_docs', '{"keys":["x"]}'],
    ['POST', '/_changes', '{}'],
    ['PUT', '/_local/ct', '{"a":1}'],
  ];

  it.each(endpoints)('%s %s answers 415 to a JSON body sent with a non-JSON Content-Type', async (method, path, body) => {
    await expectNothingWritten(async () => {
      for (const type of refused) {
        expectCouchError(await send(method, `${db}${path}`, body, { 'Content-Type': type }), 415, 'bad_content_type');
      }
    });
    expect((await getJson(`${db}/ct-doc`)).status).toBe(404);
    expect((await getJson(`${db}/_local/ct`)).status).toBe(404);
  });

  it('accepts application/json with a charset parameter', async () => {
    const res = await send('PUT', `${db}/ct-charset`, '{"a":1}', { 'Content-Type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(201);
    stored.add('ct-charset');
  });
});

describe('document ids', () => {
  it('refuses ids with the reserved underscore prefix with 400, wherever the id is given', async () => {
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}/_foo`, { a: 1 }), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/_design`, { a: 1 }), 400, 'bad_request');
      expectCouchError(await postJson(`${db}/`, { _id: '_foo' }), 400, 'bad_request');
      expectCouchError(await postJson(`${db}/`, { _id: '_design/' }), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/_design/`, { a: 1 }), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/plain`, { _id: '_foo' }), 400, 'bad_request');
      const bulk = await postJson(`${db}/_bulk_docs`, { docs: [{ _id: '_foo' }, { _id: '_local' }] });
      expect(bulk.status).toBe(201);
      expect(bulk.body).toEqual([
        expect.objectContaining({ id: '_foo', error: 'bad_request', status: 400 }),
        expect.objectContaining({ id: '_local', error: 'bad_request', status: 400 }),
      ]);
    });
  });

  it('refuses an empty id with 400', async () => {
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}//`, { a: 1 }), 400, 'bad_request');
      expectCouchError(await postJson(`${db}/`, { _id: '' }), 400, 'bad_request');
      const bulk = await postJson(`${db}/_bulk_docs`, { docs: [{ _id: '' }] });
      expect(bulk.body).toEqual([expect.objectContaining({ error: 'bad_request', status: 400 })]);
    });
  });

  it('accepts an id of a single space, as CouchDB does', async () => {
    const put = await putJson(`${db}/%20`, { space: true });
    expect(put.status).toBe(201);
    expect(put.body.id).toBe(' ');
    stored.add(' ');
    expect((await getJson(`${db}/%20`)).body).toMatchObject({ _id: ' ', space: true });
  });

  it('refuses ids longer than 250 UTF-8 bytes and accepts one of exactly 250', async () => {
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}/${'x'.repeat(251)}`, {}), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/${encodeURIComponent('é'.repeat(126))}`, {}), 400, 'bad_request');
      expectCouchError(await postJson(`${db}/`, { _id: 'y'.repeat(300) }), 400, 'bad_request');
    });
    await create('é'.repeat(125));
    await create('z'.repeat(250));
  });

  it('refuses ids that are not well-formed Unicode', async () => {
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}/%ED%A0%80`, {}), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/a%ED%B0%80b`, {}), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/%C3`, {}), 400, 'bad_request');
      expectCouchError(await send('POST', `${db}/`, '{"_id":"\\ud800"}'), 400, 'bad_request');
      expectCouchError(await send('POST', `${db}/`, '{"_id":"a\\udc00"}'), 400, 'bad_request');
      const bulk = await send('POST', `${db}/_bulk_docs`, '{"docs":[{"_id":"\\ud800"}]}');
      expect(bulk.body).toEqual([expect.objectContaining({ error: 'bad_request', status: 400 })]);
    });
  });

  it('refuses an _id in the body that differs from the URL', async () => {
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}/one`, { _id: 'two' }), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/one`, { _id: 5 }), 400, 'bad_request');
    });
  });
});

describe('revisions', () => {
  it('refuses malformed revision ids with 400 wherever a rev is given', async () => {
    const rev = await create('revs');
    await expectNothingWritten(async () => {
      for (const bad of ['abc', 'x-1', '1-', '-1', '0-abc', '1-ab_c', '99999999999-abc', '1-a b']) {
        const q = encodeURIComponent(bad);
        expectCouchError(await putJson(`${db}/revs?rev=${q}`, { a: 1 }), 400, 'bad_request');
        expectCouchError(await putJson(`${db}/revs`, { _rev: bad }), 400, 'bad_request');
        expectCouchError(await getJson(`${db}/revs?rev=${q}`), 400, 'bad_request');
        expectCouchError(await request('DELETE', `${db}/revs?rev=${q}`), 400, 'bad_request');
        expectCouchError(await request('PUT', `${db}/revs`, { a: 1 }, { 'If-Match': `"${bad}"` }), 400, 'bad_request');
      }
      expectCouchError(await putJson(`${db}/revs`, { _rev: 5 }), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/revs`, { _rev: null }), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/revs`, { _rev: rev, _revisions: { start: 'x', ids: [] } }), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/revs`, { _deleted: 'yes', _rev: rev }), 400, 'bad_request');
      expectCouchError(await putJson(`${db}/revs`, { _rev: rev, _unknown: 1 }), 400, 'bad_request');
    });
    expect((await getJson(`${db}/revs`)).body._rev).toBe(rev);
  });

  it('answers 409 conflict to a stale or missing rev', async () => {
    const first = await create('stale');
    const second = await putJson(`${db}/stale`, { _rev: first, v: 2 });
    expect(second.status).toBe(201);
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}/stale`, { _rev: first, v: 3 }), 409, 'conflict');
      expectCouchError(await putJson(`${db}/stale`, { v: 3 }), 409, 'conflict');
      expectCouchError(await putJson(`${db}/stale?rev=${first}`, { v: 3 }), 409, 'conflict');
      expectCouchError(await putJson(`${db}/stale`, { _rev: '1-00000000000000000000000000000000', v: 3 }), 409, 'conflict');
      expectCouchError(await request('DELETE', `${db}/stale?rev=${first}`), 409, 'conflict');
      expectCouchError(await request('DELETE', `${db}/stale`), 409, 'conflict');
      expectCouchError(await putJson(`${db}/never-written`, { _rev: first }), 409, 'conflict');
      const bulk = await postJson(`${db}/_bulk_docs`, { docs: [{ _id: 'stale', _rev: first }] });
      expect(bulk.status).toBe(201);
      expect(bulk.body).toEqual([expect.objectContaining({ id: 'stale', error: 'conflict', status: 409 })]);
    });
    expect((await getJson(`${db}/stale`)).body).toMatchObject({ _rev: second.body.rev, v: 2 });
  });

  it('answers 404 to a revision that does not exist', async () => {
    await create('norev');
    expectCouchError(await getJson(`${db}/norev?rev=1-00000000000000000000000000000000`), 404, 'not_found');
  });
});

describe('query parameters', () => {
  const cases: Array<[string, string]> = [
    ['/_all_docs', 'limit=abc'],
    ['/_all_docs', 'limit=-1'],
    ['/_all_docs', 'limit=1.5'],
    ['/_all_docs', 'skip=-3'],
    ['/_all_docs', 'descending=maybe'],
    ['/_all_docs', 'include_docs=2'],
    ['/_all_docs', 'inclusive_end=nope'],
    ['/_all_docs', 'keys=%5B1'],
    ['/_all_docs', 'keys=5'],
    ['/_all_docs', 'keys=%5B1%2C2%5D'],
    ['/_changes', 'since=xyz'],
    ['/_changes', 'since=-1'],
    ['/_changes', 'since=99999999999999999999999'],
    ['/_changes', 'feed=bogus'],
    ['/_changes', 'style=x'],
    ['/_changes', 'limit=abc'],
    ['/_changes', 'limit=-1'],
    ['/_changes', 'heartbeat=abc'],
    ['/_changes', 'timeout=-5'],
    ['/_changes', 'include_docs=maybe'],
    ['/_changes', 'filter=nosuch'],
    ['/_changes', 'filter=_doc_ids'],
    ['/_changes', 'doc_ids=%5B1'],
    ['/query-doc', 'open_revs=%5B1'],
    ['/query-doc', 'open_revs=%5B5%5D'],
    ['/query-doc', 'open_revs=%22x%22'],
    ['/query-doc', 'revs=maybe'],
    ['/query-doc', 'conflicts=1'],
    ['/query-doc', 'atts_since=%5B1'],
    ['/query-doc', 'atts_since=5'],
    ['/query-doc', 'rev=abc'],
  ];

  beforeAll(async () => {
    await create('query-doc');
  });

  it.each(cases)('GET %s?%s answers 400 bad_request', async (path, query) => {
    expectCouchError(await getJson(`${db}${path}?${query}`), 400, 'bad_request');
  });

  it('refuses a bad parameter in a POST _changes body as in its query string', async () => {
    for (const body of [{ feed: 'bogus' }, { limit: -1 }, { style: 'x' }, { since: 'xyz' }, { doc_ids: '[1', filter: '_doc_ids' }]) {
      expectCouchError(await postJson(`${db}/_changes`, body), 400, 'bad_request');
    }
  });

  it('refuses new_edits that is not a boolean', async () => {
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}/ne?new_edits=maybe`, { _rev: '1-abc' }), 400, 'bad_request');
      expectCouchError(await postJson(`${db}/_bulk_docs`, { docs: [{ _id: 'ne', _rev: '1-abc' }], new_edits: 'no' }), 400, 'bad_request');
    });
  });
});

describe('size limits', () => {
  const big = (n: number) => 'a'.repeat(n);

  it('answers 413 to a document larger than max_document_size', async () => {
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}/big`, { x: big(MAX_DOC * 2) }), 413, 'request_entity_too_large');
      expectCouchError(await postJson(`${db}/`, { x: big(MAX_DOC * 2) }), 413, 'request_entity_too_large');
      const bulk = await postJson(`${db}/_bulk_docs`, { docs: [{ _id: 'big', x: big(MAX_DOC * 2) }] });
      expect(bulk.status).toBe(201);
      expect(bulk.body).toEqual([expect.objectContaining({ id: 'big', error: 'request_entity_too_large', status: 413 })]);
    });
    expect((await getJson(`${db}/big`)).status).toBe(404);
  });

  it('accepts a document just under max_document_size', async () => {
    await create('just-fits', { x: big(MAX_DOC - 20) });
  });

  it('answers 413 to an attachment larger than max_attachment_size, however it is sent', async () => {
    const data = Buffer.from(big(MAX_ATT + 1));
    await expectNothingWritten(async () => {
      const standalone = await request('PUT', `${db}/big-att/file.bin`, new Uint8Array(data), { 'Content-Type': 'application/octet-stream' });
      expectCouchError(standalone, 413, 'request_entity_too_large');
      const inline = await putJson(`${db}/big-att`, { _attachments: { 'file.bin': { content_type: 'text/plain', data: data.toString('base64') } } });
      expectCouchError(inline, 413, 'request_entity_too_large');
      const boundary = 'b0undary';
      const multipart = [
        `--${boundary}\r\nContent-Type: application/json\r\n\r\n`,
        JSON.stringify({ _attachments: { 'file.bin': { content_type: 'text/plain', follows: true, length: data.length } } }),
        `\r\n--${boundary}\r\nContent-Disposition: attachment; filename="file.bin"\r\n\r\n`,
        data.toString(),
        `\r\n--${boundary}--`,
      ].join('');
      const related = await send('PUT', `${db}/big-att`, multipart, { 'Content-Type': `multipart/related; boundary="${boundary}"` });
      expectCouchError(related, 413, 'request_entity_too_large');
    });
    expect((await getJson(`${db}/big-att`)).status).toBe(404);
  });
});

describe('attachments', () => {
  it('refuses a content_type that could not be sent back as a header, and keeps serving the document', async () => {
    await expectNothingWritten(async () => {
      for (const type of ['text/plain\r\nX-Injected: 1', 'bad\nvalue', 'ü/ü', 'nul\u0000']) {
        const res = await putJson(`${db}/att-type`, { _attachments: { 'a.txt': { content_type: type, data: 'aGVsbG8=' } } });
        expectCouchError(res, 400, 'bad_request');
      }
    });
    await create('att-type', { _attachments: { 'a.txt': { content_type: 'text/plain; charset="utf-8"', data: 'aGVsbG8=' } } });
    const att = await fetch(`${db}/att-type/a.txt`);
    expect(att.headers.get('content-type')).toBe('text/plain; charset="utf-8"');
    expect(await att.text()).toBe('hello');
  });
});

describe('routing', () => {
  it('answers 404 not_found for a database that does not exist', async () => {
    for (const [method, path, body] of [
      ['GET', '/nosuch/', undefined],
      ['GET', '/nosuch/doc', undefined],
      ['PUT', '/nosuch/doc', '{}'],
      ['POST', '/nosuch/_bulk_docs', '{"docs":[]}'],
      ['GET', '/nosuch/_changes', undefined],
      ['DELETE', '/nosuch/doc?rev=1-abc', undefined],
    ] as const) {
      expectCouchError(await send(method, `${server.url}${path}`, body), 404, 'not_found');
    }
  });

  it('answers 404 not_found for an unknown underscore endpoint', async () => {
    for (const [method, path] of [
      ['GET', '/db/_nothing'],
      ['POST', '/db/_nothing'],
      ['GET', '/_nothing'],
      ['POST', '/_session_x'],
      ['GET', '/db/_local'],
      ['GET', '/db/_design'],
      ['GET', '/db/_all_docs/extra'],
    ] as const) {
      expectCouchError(await send(method, `${server.url}${path}`), 404, 'not_found');
    }
  });

  it('answers 404 not_found for a missing document or attachment', async () => {
    expectCouchError(await getJson(`${db}/no-such-doc`), 404, 'not_found');
    expectCouchError(await getJson(`${db}/no-such-doc/att`), 404, 'not_found');
    expectCouchError(await getJson(`${db}/_local/no-such-doc`), 404, 'not_found');
  });

  it('answers 405 method_not_allowed to a method an endpoint does not take', async () => {
    for (const [method, path, url] of [
      ['PATCH', '/db/doc', server.url],
      ['PUT', '/db/_all_docs', server.url],
      ['DELETE', '/db/_changes', server.url],
      ['GET', '/db/_bulk_docs', server.url],
      ['GET', '/db/_revs_diff', server.url],
      ['POST', '/db/some-doc', server.url],
      ['POST', '/', server.url],
      ['DELETE', '/', server.url],
      ['POST', '/_all_dbs', server.adminUrl],
      ['DELETE', '/_all_dbs', server.adminUrl],
      ['OPTIONS', '/db/', server.url],
    ] as const) {
      expectCouchError(await send(method, `${url}${path}`), 405, 'method_not_allowed');
    }
  });

  it('refuses admin-only endpoints on the public port and leaves the database untouched', async () => {
    const rev = await create('keep-me');
    for (const [method, path, body] of [
      ['POST', '/db/_purge', JSON.stringify({ 'keep-me': [rev] })],
      ['POST', '/db/_compact', '{}'],
      ['GET', '/db/_config', undefined],
      ['PUT', '/db/_config', '{"revs_limit":20}'],
      ['PUT', '/newdb/', undefined],
      ['PUT', '/newdb/', '{}'],
      ['DELETE', '/db/', undefined],
      ['GET', '/_all_dbs', undefined],
    ] as const) {
      expectCouchError(await send(method, `${server.url}${path}`, body), 403, 'forbidden');
    }
    expect((await getJson(`${db}/keep-me`)).body._rev).toBe(rev);
    expect((await getJson(`${server.adminUrl}/newdb/`)).status).toBe(404);
    expect((await getJson(`${server.adminUrl}/db/_config`)).body.revs_limit).not.toBe(20);
    expect((await getJson(`${server.adminUrl}/_all_dbs`)).body).toEqual(['db']);
  });

  it('answers 400 to malformed percent-encoding in the path', async () => {
    for (const path of ['/db/%zz', '/db/a%', '/db/%E0%A4%A', '/%zz/doc', '/db/doc/%ff%', '/db/_local/%g0']) {
      expectCouchError(await getJson(`${server.url}${path}`), 400, 'bad_request');
    }
    await expectNothingWritten(async () => {
      expectCouchError(await putJson(`${db}/%zz`, {}), 400, 'bad_request');
    });
  });
});

describe('bulk request shapes', () => {
  it('answers 400 to a _bulk_docs body without a docs array', async () => {
    await expectNothingWritten(async () => {
      for (const body of [{ docs: 5 }, {}, { docs: null }, { docs: { a: 1 } }, [], 'docs', [{ _id: 'x' }]]) {
        expectCouchError(await postJson(`${db}/_bulk_docs`, body), 400, 'bad_request');
      }
    });
  });

  it('gives a per-document error to _bulk_docs entries that are not objects and still writes the good ones', async () => {
    const res = await postJson(`${db}/_bulk_docs`, { docs: [1, 'x', null, [], { _id: 'bulk-ok' }, { _id: 5 }, { _id: 'bulk-bad', _rev: 'nope' }] });
    expect(res.status).toBe(201);
    const results = res.body as Array<Record<string, unknown>>;
    expect(results).toHaveLength(7);
    for (const i of [0, 1, 2, 3, 5, 6]) expect(results[i]).toMatchObject({ error: 'bad_request', reason: expect.any(String), status: 400 });
    expect(results[4]).toEqual({ id: 'bulk-ok', rev: expect.stringMatching(/^1-/) });
    stored.add('bulk-ok');
    expect((await getJson(`${db}/bulk-bad`)).status).toBe(404);
  });

  it('answers 400 to malformed _bulk_get requests', async () => {
    for (const body of [
      { docs: 5 },
      {},
      [],
      { docs: [5] },
      { docs: [{ rev: '1-abc' }] },
      { docs: [{ id: 5 }] },
      { docs: [{ id: '' }] },
      { docs: [{ id: 'a', rev: 'zz' }] },
      { docs: [{ id: 'a', atts_since: 5 }] },
      { docs: [{ id: 'a', atts_since: [5] }] },
    ]) {
      expectCouchError(await postJson(`${db}/_bulk_get`, body), 400, 'bad_request');
    }
  });

  it('answers 400 to malformed _revs_diff requests', async () => {
    for (const body of [[1], 'x', 5, { a: '1-abc' }, { a: [5] }, { a: ['zz'] }, { a: null }, { a: [['1-abc']] }]) {
      expectCouchError(await postJson(`${db}/_revs_diff`, body), 400, 'bad_request');
    }
  });

  it('answers 400 to malformed _all_docs keys', async () => {
    for (const body of [{ keys: 5 }, { keys: [1] }, { keys: 'a' }, { keys: [null] }, { keys: { a: 1 } }, [], 'keys']) {
      expectCouchError(await postJson(`${db}/_all_docs`, body), 400, 'bad_request');
    }
  });
});

describe('multipart bodies', () => {
  const part = (boundary: string, json: string, attachments: string[] = []) =>
    [`--${boundary}\r\nContent-Type: application/json\r\n\r\n${json}`, ...attachments.map((a) => `\r\n--${boundary}\r\n\r\n${a}`), `\r\n--${boundary}--`].join('');

  const cases: Array<[string, string, string]> = [
    ['no boundary parameter', 'multipart/related', part('abc', '{}')],
    ['an empty boundary', 'multipart/related; boundary=', part('abc', '{}')],
    ['no opening delimiter', 'multipart/related; boundary=abc', 'garbage'],
    ['a JSON part that is not JSON', 'multipart/related; boundary=abc', part('abc', '{bad')],
    ['a JSON part that is not an object', 'multipart/related; boundary=abc', part('abc', '[1]')],
    ['a JSON part with invalid bytes', 'multipart/related; boundary=abc', part('abc', '\u00ff\u00fe')],
    ['an attachment that follows without its part', 'multipart/related; boundary=abc', part('abc', '{"_attachments":{"x":{"follows":true}}}')],
    ['a body cut off inside a part', 'multipart/related; boundary=abc', `--abc\r\nContent-Type: application/json\r\n\r\n{"a":1}`],
    ['an empty body', 'multipart/related; boundary=abc', ''],
  ];

  it.each(cases)('answers 400 to a multipart/related document with %s', async (_name, type, body) => {
    await expectNothingWritten(async () => {
      expectCouchError(await send('PUT', `${db}/mp-doc`, body, { 'Content-Type': type }), 400, 'bad_request');
    });
    expect((await getJson(`${db}/mp-doc`)).status).toBe(404);
  });

  it('stores a well-formed multipart/related document with its attachment', async () => {
    const body = part('abc', '{"kind":"mp","_attachments":{"x.txt":{"follows":true,"content_type":"text/plain"}}}', ['hello']);
    const res = await send('PUT', `${db}/mp-good`, body, { 'Content-Type': 'multipart/related; boundary=abc' });
    expect(res.status).toBe(201);
    stored.add('mp-good');
    const att = await fetch(`${db}/mp-good/x.txt`);
    expect(await att.text()).toBe('hello');
  });
});

describe('after all the bad input', () => {
  it('still writes and reads, and the database holds exactly the documents that were accepted', async () => {
    const rev = await create('final', { ok: true });
    const read: JsonResponse = await getJson(`${db}/final`);
    expect(read.body).toEqual({ _id: 'final', _rev: rev, ok: true });
    const update = await putJson(`${db}/final`, { _rev: rev, ok: 2 });
    expect(update.status).toBe(201);

    const all = await getJson<{ total_rows: number; rows: Array<{ id: string; value: { rev: string } }> }>(`${db}/_all_docs`);
    expect(all.status).toBe(200);
    expect(new Set(all.body.rows.map((r) => r.id))).toEqual(stored);
    const info = await getJson(`${db}/`);
    expect(info.body.doc_count).toBe(stored.size);
    expect(all.body.total_rows).toBe(stored.size);

    const changes = await getJson<{ results: Array<{ id: string; changes: Array<{ rev: string }>; deleted?: boolean }> }>(`${db}/_changes?since=0`);
    expect(changes.body.results.map((c) => c.id).sort()).toEqual([...stored].sort());
    const revs = new Map(all.body.rows.map((r) => [r.id, r.value.rev]));
    for (const change of changes.body.results) expect(change.changes[0]!.rev).toBe(revs.get(change.id));
  });
});
