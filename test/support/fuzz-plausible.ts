import fc from 'fast-check';
import { pct, REV_TOKEN } from './fuzz-tokens.ts';

const smallJson = fc.jsonValue({ maxDepth: 3 });

const PLAIN_IDS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', '_design/p9'];
const plainId = fc.constantFrom(...PLAIN_IDS);
const plainPath = (id: string) => (id.startsWith('_design/') ? id : pct(id));
/** The revision of `id` the caller last saw (or some known revision). */
const revOf = (id: string) => `${REV_TOKEN}:${id}`;
const hex = fc.stringMatching(/^[0-9a-f]{32}$/);

const userBody = fc.dictionary(fc.constantFrom('n', 's', 'list', 'nested', 'flag'), smallJson, { maxKeys: 3 });
const inlineAttachments = fc.dictionary(
  fc.constantFrom('a.txt', 'b.bin'),
  fc
    .tuple(fc.uint8Array({ maxLength: 48 }), fc.constantFrom('text/plain', 'application/octet-stream', 'image/png; q="1"', 'bad\nvalue', 'ü/ü'))
    .map(([data, type]) => ({ content_type: type, data: Buffer.from(data).toString('base64') })),
  { maxKeys: 2 },
);
const editOf = (id: string) =>
  fc
    .record({ body: userBody, withRev: fc.boolean(), deleted: fc.boolean(), attachments: fc.option(inlineAttachments, { nil: undefined }) })
    .map(({ body: b, withRev, deleted, attachments }) => ({
      _id: id,
      ...b,
      ...(withRev ? { _rev: revOf(id) } : {}),
      ...(deleted ? { _deleted: true } : {}),
      ...(attachments ? { _attachments: attachments } : {}),
    }));
const replicatedOf = (id: string) =>
  fc.record({ body: userBody, start: fc.integer({ min: 1, max: 4 }), digests: fc.array(hex, { minLength: 1, maxLength: 4 }), deleted: fc.boolean() }).map(({ body: b, start, digests, deleted }) => {
    const ids = digests.slice(0, start);
    return { _id: id, ...b, _rev: `${start}-${ids[0]!}`, _revisions: { start, ids }, ...(deleted ? { _deleted: true } : {}) };
  });

const json = { 'Content-Type': 'application/json' };
const plain = (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => ({
  method,
  path,
  headers: body === undefined ? extra : { ...json, ...extra },
  body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
});

/** Mostly well-formed requests, so that documents get written, updated, deleted, conflicted and purged. */
export const plausibleRequest = fc.oneof(
  { weight: 6, arbitrary: plainId.chain((id) => editOf(id).map((doc) => plain('PUT', `/db/${plainPath(id)}`, doc))) },
  { weight: 2, arbitrary: fc.tuple(plainId, userBody).map(([id, b]) => plain('PUT', `/db/${plainPath(id)}?rev=${revOf(id)}`, b)) },
  { weight: 4, arbitrary: fc.tuple(fc.array(plainId.chain(editOf), { minLength: 1, maxLength: 6 })).map(([docs]) => plain('POST', '/db/_bulk_docs', { docs })) },
  { weight: 2, arbitrary: fc.array(plainId.chain(replicatedOf), { minLength: 1, maxLength: 4 }).map((docs) => plain('POST', '/db/_bulk_docs', { docs, new_edits: false })) },
  { weight: 1, arbitrary: plainId.chain(replicatedOf).map((doc) => plain('PUT', `/db/${plainPath(doc._id)}?new_edits=false`, doc)) },
  { weight: 2, arbitrary: plainId.map((id) => plain('DELETE', `/db/${plainPath(id)}?rev=${revOf(id)}`)) },
  { weight: 1, arbitrary: userBody.map((b) => plain('POST', '/db/', b)) },
  {
    weight: 2,
    arbitrary: fc.tuple(plainId, fc.constantFrom('a.txt', 'b.bin', 'dir/c.txt'), fc.uint8Array({ maxLength: 64 })).map(([id, name, data]) => ({
      method: 'PUT',
      path: `/db/${plainPath(id)}/${name}?rev=${revOf(id)}`,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    })),
  },
  { weight: 1, arbitrary: fc.tuple(plainId, fc.constantFrom('a.txt', 'b.bin')).map(([id, name]) => plain('DELETE', `/db/${plainPath(id)}/${name}?rev=${revOf(id)}`)) },
  { weight: 2, arbitrary: fc.tuple(plainId, fc.constantFrom('a.txt', 'b.bin', 'dir/c.txt')).map(([id, name]) => plain('GET', `/db/${plainPath(id)}/${name}`)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(plainId, fc.subarray(['revs=true', 'revs_info=true', 'conflicts=true', 'deleted_conflicts=true', 'attachments=true', 'open_revs=all', `atts_since=["${REV_TOKEN}"]`]), fc.constantFrom('application/json', 'multipart/mixed', 'multipart/related'))
      .map(([id, q, accept]) => plain('GET', `/db/${plainPath(id)}?${q.join('&')}`, undefined, { Accept: accept })),
  },
  { weight: 1, arbitrary: fc.array(plainId, { maxLength: 5 }).map((ids) => plain('POST', '/db/_bulk_get?revs=true&attachments=true', { docs: ids.map((id) => ({ id })) }, { Accept: 'multipart/mixed' })) },
  { weight: 1, arbitrary: fc.array(plainId, { maxLength: 5 }).map((ids) => plain('POST', '/db/_revs_diff', Object.fromEntries(ids.map((id) => [id, [revOf(id), '9-abc']])))) },
  { weight: 1, arbitrary: fc.constantFrom('/db/_all_docs?include_docs=true&conflicts=true', '/db/_all_docs?descending=true&limit=3', '/db/_changes?style=all_docs&include_docs=true', '/db/_changes?since=3&limit=2', '/db/').map((p) => plain('GET', p)) },
  { weight: 1, arbitrary: plainId.map((id) => ({ ...plain('POST', '/db/_purge', { [id]: [revOf(id)] }), admin: true })) },
  { weight: 1, arbitrary: plainId.map((id) => ({ ...plain('POST', '/db/_purge', { [id]: ['*'] }), admin: true })) },
  { weight: 1, arbitrary: fc.constant({ ...plain('POST', '/db/_compact', {}), admin: true }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('cp1', 'cp2'), userBody).map(([id, b]) => plain('PUT', `/db/_local/${id}`, b)) },
);
