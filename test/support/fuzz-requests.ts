import fc from 'fast-check';
import { plausibleRequest } from './fuzz-plausible.ts';
import { pct, REV_TOKEN } from './fuzz-tokens.ts';

/**
 * Arbitraries for random HTTP requests against a Syncline database named "db": paths from a vocabulary of
 * endpoints, document ids and garbage segments; random query strings, headers and bodies; mixed with mostly
 * well-formed requests on a few documents. The token `@REV` in a path, query, header or body stands for a
 * revision the caller picks (e.g. one the server returned earlier); `@REV:<id>` for the latest one it saw of <id>.
 */
export interface FuzzRequest {
  method: string;
  /** Path and query, already percent-encoded, starting with "/". */
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  /** Picks which known revision replaces `@REV`. */
  revIndex: number;
  admin: boolean;
}

const DOC_IDS = ['a', 'b', 'c', 'doc1', 'doc2', '_design/', '_design/x', '_design/a/b', '_local/x', 'with space', 'ü', '😀', 'a/b', 'nul\u0000id', ' ', '_foo', '', 'x'.repeat(251), 'y'.repeat(250)];
const ENDPOINTS = ['_all_docs', '_bulk_docs', '_bulk_get', '_revs_diff', '_changes', '_local', '_design', '_purge', '_compact', '_config', '_ensure_full_commit', '_session', '_all_dbs', '_nothing'];
const GARBAGE_SEGMENTS = ['%ED%A0%80', '%zz', '%', '%2F', '%00', '%C3', '%E0%A4%A', '%FF', '..x', '%20', '%2e%2e', ''];
const DB_SEGMENTS: Array<fc.WeightedArbitrary<string>> = [
  { weight: 12, arbitrary: fc.constant('db') },
  { weight: 1, arbitrary: fc.constantFrom('nosuch', '_foo', 'DB', '%zz', '%64b', '') },
];

const docIdText = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...DOC_IDS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) });
const docSegment = fc.oneof({ weight: 6, arbitrary: docIdText.map(pct) }, { weight: 1, arbitrary: fc.constantFrom(...GARBAGE_SEGMENTS) });
const anySegment = fc.oneof(docSegment, fc.constantFrom(...ENDPOINTS));

const pathSegments: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
  { weight: 2, arbitrary: fc.oneof(...DB_SEGMENTS).map((db) => [db]) },
  { weight: 5, arbitrary: fc.tuple(fc.oneof(...DB_SEGMENTS), fc.constantFrom(...ENDPOINTS)).map((s) => [...s]) },
  { weight: 8, arbitrary: fc.tuple(fc.oneof(...DB_SEGMENTS), docSegment).map((s) => [...s]) },
  { weight: 2, arbitrary: fc.tuple(fc.oneof(...DB_SEGMENTS), docSegment, docSegment).map((s) => [...s]) },
  { weight: 2, arbitrary: fc.tuple(fc.oneof(...DB_SEGMENTS), fc.constantFrom('_local', '_design'), docSegment).map((s) => [...s]) },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(...DB_SEGMENTS), fc.constant('_design'), docSegment, docSegment).map((s) => [...s]) },
  { weight: 1, arbitrary: fc.array(anySegment, { maxLength: 5 }) },
);

const QUERY_KEYS = ['rev', 'revs', 'revs_info', 'open_revs', 'conflicts', 'deleted_conflicts', 'attachments', 'atts_since', 'limit', 'skip', 'descending', 'include_docs', 'startkey', 'endkey', 'start_key', 'end_key', 'keys', 'key', 'since', 'feed', 'style', 'filter', 'doc_ids', 'heartbeat', 'new_edits', 'active_only', 'inclusive_end', 'local_seq', 'latest'];
const QUERY_VALUES = ['true', 'false', '', 'abc', '-1', '0', '1', '5', '1.5', '99999999999999999999', '["a"]', '["a","b"]', '[1', '[1]', 'all', '1-abc', '"a"', '%zz', '%', 'now', 'normal', 'longpoll', 'continuous', 'bogus', 'main_only', 'all_docs', '_doc_ids', REV_TOKEN, `["${REV_TOKEN}"]`, '{}', 'null'];
const queryValue = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...QUERY_VALUES) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map(pct) });
const queryString = fc
  .array(fc.tuple(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...QUERY_KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 5 }).map(pct) }), queryValue), { maxLength: 4 })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));

const smallJson = fc.jsonValue({ maxDepth: 3 });
const attachmentEntry = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((data) => ({ content_type: 'application/octet-stream', data: Buffer.from(data).toString('base64') })),
  fc.constant({ stub: true, digest: 'sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=', length: 3 }),
  fc.constant({ follows: true, content_type: 'text/plain' }),
  fc.constant({ data: '!!not base64!!' }),
  fc.record({ content_type: fc.constantFrom('text/plain', 'bad\nvalue', 'ü/ü', '', 'a"b; c=d', 'x\u0000'), data: fc.constant('aGVsbG8=') }),
  smallJson,
);

/** A document body: user properties plus a random mix of the special members. */
const docObject = fc
  .record(
    {
      body: fc.dictionary(fc.string({ maxLength: 6 }), smallJson, { maxKeys: 4 }),
      _id: docIdText,
      _rev: fc.oneof(fc.constant(REV_TOKEN), fc.constantFrom('1-abc', 'x-1', '0-a', 5 as unknown as string)),
      _deleted: fc.oneof(fc.boolean(), fc.constant('yes' as unknown as boolean)),
      _attachments: fc.dictionary(fc.constantFrom('a.txt', 'b.bin', '', 'line\nbreak', 'ü', '_att'), attachmentEntry, { maxKeys: 2 }),
      _revisions: fc.oneof(fc.record({ start: fc.integer({ min: -1, max: 5 }), ids: fc.array(fc.constantFrom('abc', 'def', '', 'x y'), { maxLength: 3 }) }), smallJson),
      _extra: smallJson,
    },
    { requiredKeys: ['body'] },
  )
  .map(({ body, _extra, ...specials }) => ({ ...body, ...specials, ...(_extra !== undefined ? { _unknown_member: _extra } : {}) }));

const deepJson = fc.constantFrom(600, 5000).map((depth) => `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`);

function multipartOf(doc: string, data: string, boundary: string, cut: number | undefined): string {
  const full = `--${boundary}\r\nContent-Type: application/json\r\n\r\n${doc}\r\n--${boundary}\r\nContent-Disposition: attachment; filename="a.txt"\r\n\r\n${data}\r\n--${boundary}--`;
  return cut === undefined ? full : full.slice(0, cut % (full.length + 1));
}

const jsonBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: docObject.map((d) => JSON.stringify(d)) },
  { weight: 4, arbitrary: fc.record({ docs: fc.array(fc.oneof({ weight: 4, arbitrary: docObject }, { weight: 1, arbitrary: smallJson }), { maxLength: 6 }), new_edits: fc.oneof(fc.boolean(), smallJson) }, { requiredKeys: ['docs'] }).map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: fc.record({ docs: fc.array(fc.record({ id: docIdText, rev: fc.constantFrom(REV_TOKEN, 'zz', '1-abc') }, { requiredKeys: ['id'] }), { maxLength: 4 }) }).map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: fc.dictionary(docIdText, fc.array(fc.constantFrom(REV_TOKEN, '1-abc', '2-def', 'zz'), { maxLength: 3 }), { maxKeys: 3 }).map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.record({ keys: fc.oneof(fc.array(docIdText, { maxLength: 4 }), smallJson) }).map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

const MULTIPART_BOUNDARY = 'fuzzB0undary';
const multipartBody = fc.tuple(docObject, fc.string({ maxLength: 20 }), fc.option(fc.nat(), { nil: undefined })).map(([doc, data, cut]) => multipartOf(JSON.stringify(doc), data, MULTIPART_BOUNDARY, cut));

const body: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 10, arbitrary: jsonBody },
  { weight: 2, arbitrary: multipartBody },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  `multipart/related; boundary="${MULTIPART_BOUNDARY}"`,
  'multipart/related; boundary=other',
  'multipart/related',
  'multipart/mixed; boundary=x',
  'application/vnd.api+json',
  'garbage',
];
const ACCEPTS = ['application/json', 'multipart/mixed', 'multipart/related', '*/*', 'text/html', 'multipart/mixed, application/json'];

const headers = fc
  .record(
    {
      'Content-Type': fc.constantFrom(...CONTENT_TYPES),
      Accept: fc.constantFrom(...ACCEPTS),
      'If-Match': fc.constantFrom(`"${REV_TOKEN}"`, REV_TOKEN, 'garbage', '"1-abc"'),
    },
    { requiredKeys: [] },
  )
  .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>);

const METHODS: Array<fc.WeightedArbitrary<string>> = [
  { weight: 8, arbitrary: fc.constant('GET') },
  { weight: 8, arbitrary: fc.constant('PUT') },
  { weight: 8, arbitrary: fc.constant('POST') },
  { weight: 3, arbitrary: fc.constant('DELETE') },
  { weight: 2, arbitrary: fc.constant('HEAD') },
  { weight: 1, arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'COPY', 'PROPFIND') },
];

/** The path segments as the server splits them: a trailing empty segment is dropped. */
export function serverSegments(path: string): string[] {
  const q = path.indexOf('?');
  const raw = (q === -1 ? path : path.slice(0, q)).split('/').slice(1);
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  return raw;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Admin requests that would delete, create or reconfigure databases are turned into reads. */
function tameAdmin(method: string, path: string): string {
  const segments = serverSegments(new URL(`http://127.0.0.1${path}`).pathname);
  if ((method === 'PUT' || method === 'DELETE') && segments.length === 1) return 'GET';
  if (method === 'PUT' && segments.some((s) => decoded(s) === '_config')) return 'GET';
  return method;
}

const randomRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.oneof(...METHODS),
    segments: pathSegments,
    query: fc.option(queryString, { nil: undefined }),
    headers,
    body,
    revIndex: fc.nat(),
    trailingSlash: fc.boolean(),
    admin: fc.nat({ max: 7 }).map((n) => n === 0),
  })
  .map(({ method, segments, query, headers: h, body: b, revIndex, trailingSlash, admin }) => {
    const path = `/${segments.join('/')}${trailingSlash && segments.length > 0 ? '/' : ''}${query !== undefined ? `?${query}` : ''}`;
    const finalMethod = admin ? tameAdmin(method, path) : method;
    const bodyless = finalMethod === 'GET' || finalMethod === 'HEAD';
    return { method: finalMethod, path, headers: h, body: bodyless ? undefined : b, revIndex, admin };
  });

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 3, arbitrary: randomRequest },
  {
    weight: 2,
    arbitrary: fc.tuple(plausibleRequest, fc.nat()).map(([r, revIndex]): FuzzRequest => ({ admin: false, ...r, revIndex })),
  },
);
