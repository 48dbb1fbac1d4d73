type JsonObject = Record<string, unknown>;

/**
 * Couchbase Lite keeps blobs inline (`{"@type":"blob","digest",...}`) while CouchDB-style peers only know
 * `_attachments`. As LiteCore does, a pushed revision carries a shadow `_attachments["blob_/<path>"]` stub
 * for each inline blob, and a pulled revision loses the shadows of blobs it holds inline. Paths are JSON
 * Pointers (`~` and `/` in keys escaped), so ordinary keys give `blob_/` + keys joined by `/`.
 */

export const LEGACY_BLOB_PREFIX = 'blob_';

export interface InlineBlob {
  /** Keys and array indices from the body's root to the blob dictionary. */
  path: (string | number)[];
  blob: JsonObject;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A Couchbase Lite blob dictionary: `@type` "blob" and a digest. */
export function isBlobDict(value: unknown): value is JsonObject {
  return isObject(value) && value['@type'] === 'blob' && typeof value.digest === 'string' && value.digest !== '';
}

/** Inline blobs anywhere in the body except under the root's `_attachments`, in document order. */
export function findInlineBlobs(body: JsonObject): InlineBlob[] {
  const found: InlineBlob[] = [];
  const walk = (value: unknown, path: (string | number)[]): void => {
    if (isBlobDict(value)) found.push({ path, blob: value });
    else if (Array.isArray(value)) value.forEach((item, i) => walk(item, [...path, i]));
    else if (isObject(value)) for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
  };
  for (const [key, value] of Object.entries(body)) if (key !== '_attachments') walk(value, [key]);
  return found;
}

const escapeToken = (token: string | number): string => String(token).replaceAll('~', '~0').replaceAll('/', '~1');
const unescapeToken = (token: string): string => token.replaceAll('~1', '/').replaceAll('~0', '~');

/** `_attachments` key of the shadow of the blob at `path`: `blob_/a/0/b`. */
export function legacyAttachmentName(path: readonly (string | number)[]): string {
  return `${LEGACY_BLOB_PREFIX}/${path.map(escapeToken).join('/')}`;
}

/** The value at a `blob_/...` name's path in the body, or undefined when the path leads nowhere. */
export function valueAtLegacyName(body: JsonObject, name: string): unknown {
  if (!name.startsWith(`${LEGACY_BLOB_PREFIX}/`)) return undefined;
  const tokens = name.slice(LEGACY_BLOB_PREFIX.length + 1).split('/').map(unescapeToken);
  if (tokens[0] === '_attachments') return undefined;
  let value: unknown = body;
  for (const token of tokens) {
    if (Array.isArray(value)) value = /^(0|[1-9]\d*)$/.test(token) ? value[Number(token)] : undefined;
    else if (isObject(value)) value = Object.hasOwn(value, token) ? value[token] : undefined;
    else return undefined;
  }
  return value;
}

/** The shadow stub of one inline blob, with `revpos` the generation of the revision being sent. */
function shadowOf(blob: JsonObject, revpos: number): JsonObject {
  const stub: JsonObject = { stub: true, digest: blob.digest };
  if (blob.length !== undefined) stub.length = blob.length;
  if (blob.content_type !== undefined) stub.content_type = blob.content_type;
  stub.revpos = revpos;
  return stub;
}

/** The body with a shadow `_attachments` entry per inline blob; the given body is left untouched. */
export function withLegacyAttachments(body: JsonObject, generation: number): JsonObject {
  const blobs = findInlineBlobs(body);
  if (blobs.length === 0) return body;
  const atts: JsonObject = isObject(body._attachments) ? { ...body._attachments } : {};
  for (const { path, blob } of blobs) atts[legacyAttachmentName(path)] = shadowOf(blob, generation);
  return { ...body, _attachments: atts };
}

/** The body without the `_attachments` entries that shadow an inline blob; `_attachments` goes if emptied. */
export function stripLegacyAttachments(body: JsonObject): JsonObject {
  const atts = body._attachments;
  if (!isObject(atts)) return body;
  const kept: JsonObject = {};
  let dropped = false;
  for (const [name, meta] of Object.entries(atts)) {
    if (isBlobDict(valueAtLegacyName(body, name))) dropped = true;
    else kept[name] = meta;
  }
  if (!dropped) return body;
  const { _attachments: _old, ...rest } = body;
  return Object.keys(kept).length > 0 ? { ...rest, _attachments: kept } : rest;
}

/**
 * The body with a shadow stub for every inline blob that has none yet; entries already there are kept as
 * they are (a server completing what a client without shadows sent). Returns the body itself when nothing
 * is missing.
 */
export function addMissingLegacyAttachments(body: JsonObject, generation: number): JsonObject {
  const existing = isObject(body._attachments) ? body._attachments : {};
  let added: JsonObject | undefined;
  for (const { path, blob } of findInlineBlobs(body)) {
    const name = legacyAttachmentName(path);
    if (Object.hasOwn(existing, name) || (added && Object.hasOwn(added, name))) continue;
    const stub = shadowOf(blob, generation);
    if (typeof stub.content_type !== 'string') stub.content_type = 'application/octet-stream';
    (added ??= {})[name] = stub;
  }
  return added ? { ...body, _attachments: { ...existing, ...added } } : body;
}

/** The generation of a `N-digest` revision ID (0 when it has none). */
export function revGeneration(revId: string): number {
  const n = Number.parseInt(revId, 10);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
