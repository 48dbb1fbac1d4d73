import { parseContentType } from './content-type.ts';
import { MultipartError } from './errors.ts';
import { memberKeyOrder } from './json-key-order.ts';
import { parseMultipart } from './parse.ts';
import type { MultipartPart } from './parse.ts';
import { writeMultipart } from './write.ts';
import type { OutgoingPart, WrittenMultipart } from './write.ts';

export interface AttachmentBody {
  name: string;
  contentType: string;
  /** The bytes as sent: already encoded when `encoding` (e.g. "gzip") is set. */
  data: Buffer;
  encoding?: string;
}

export interface DecodedDocument {
  /** The JSON part as sent: `follows` attachment entries are left in place for the caller to resolve. */
  doc: Record<string, unknown>;
  attachments: Map<string, Buffer>;
}

export type RevisionEntry = { doc: Record<string, unknown>; attachments?: AttachmentBody[] } | { missing: string };

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;
const hasControlChar = (s: string): boolean => [...s].some((c) => c < ' ' || c === '\x7f');

/**
 * Reads a `multipart/related` document body (CouchDB `PUT /db/doc` with attachments sent as parts). Parts are
 * matched to `follows` attachments by Content-Disposition filename when every named part names one, otherwise
 * by position in the `_attachments` order of the JSON text.
 */
export function decodeDocumentMultipart(body: Buffer, contentType: string): DecodedDocument {
  const { type } = parseContentType(contentType);
  if (type !== 'multipart/related') throw new MultipartError(`expected multipart/related, got "${type}"`);
  const [first, ...rest] = parseMultipart(body, contentType);
  if (first === undefined) throw new MultipartError('multipart document has no parts');
  const { doc, json } = readJsonPart(first);
  const follows = followsEntries(doc, json);
  const attachments = matchParts([...follows.keys()], rest);
  for (const [name, data] of attachments) checkLength(name, follows.get(name), data);
  return { doc, attachments };
}

/**
 * Writes a document and attachment bodies as `multipart/related`. The listed attachments become `follows`
 * entries in the JSON part (without `data`/`stub`); the input document is left untouched.
 */
export function encodeDocumentRelated(doc: JsonObject, attachments: AttachmentBody[]): WrittenMultipart {
  const { json, ordered } = followsDocument(doc, attachments);
  const parts: OutgoingPart[] = [{ headers: { 'Content-Type': 'application/json' }, body: json }];
  for (const att of ordered) parts.push({ headers: attachmentHeaders(att), body: att.data });
  return writeMultipart(parts, 'related');
}

/** Writes revisions as `multipart/mixed` the way CouchDB answers `open_revs` with `Accept: multipart/mixed`. */
export function encodeRevisionsMixed(revs: RevisionEntry[]): WrittenMultipart {
  const parts = revs.map((rev): OutgoingPart => {
    if ('missing' in rev) {
      return {
        headers: { 'Content-Type': 'application/json; error="true"' },
        body: JSON.stringify({ missing: rev.missing }),
      };
    }
    if (rev.attachments === undefined || rev.attachments.length === 0) {
      return { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(rev.doc) };
    }
    const related = encodeDocumentRelated(rev.doc, rev.attachments);
    return { headers: { 'Content-Type': related.contentType }, body: related.body };
  });
  return writeMultipart(parts, 'mixed');
}

/** Reads a `multipart/mixed` body of revisions (the inverse of encodeRevisionsMixed). */
export function decodeRevisionsMixed(body: Buffer, contentType: string): Array<DecodedDocument | { missing: string }> {
  const { type } = parseContentType(contentType);
  if (type !== 'multipart/mixed') throw new MultipartError(`expected multipart/mixed, got "${type}"`);
  return parseMultipart(body, contentType).map((part) => {
    const partType = part.headers['content-type'] ?? '';
    if (parseContentType(partType).type === 'multipart/related') return decodeDocumentMultipart(part.body, partType);
    const { doc } = readJsonPart(part);
    if (typeof doc['missing'] === 'string' && !('_id' in doc)) return { missing: doc['missing'] };
    return { doc, attachments: new Map<string, Buffer>() };
  });
}

function readJsonPart(part: MultipartPart): { doc: JsonObject; json: string } {
  const type = part.headers['content-type'];
  if (type !== undefined && parseContentType(type).type !== 'application/json') {
    throw new MultipartError(`expected an application/json part, got "${type}"`);
  }
  const json = part.body.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new MultipartError('multipart JSON part is not valid JSON', { cause: err });
  }
  if (!isObject(doc)) throw new MultipartError('multipart JSON part is not a JSON object');
  return { doc, json };
}

/** The `follows` attachment entries in the order their parts are expected. */
function followsEntries(doc: JsonObject, json: string): Map<string, JsonObject> {
  const atts = doc['_attachments'];
  const entries = new Map<string, JsonObject>();
  if (atts === undefined) return entries;
  if (!isObject(atts)) throw new MultipartError('"_attachments" is not a JSON object');
  let names = Object.keys(atts);
  if (names.some((name) => ARRAY_INDEX.test(name))) names = memberKeyOrder(json, '_attachments');
  for (const name of names) {
    const entry = atts[name];
    if (isObject(entry) && entry['follows'] === true) entries.set(name, entry);
  }
  return entries;
}

function matchParts(names: string[], parts: MultipartPart[]): Map<string, Buffer> {
  if (parts.length > names.length) {
    throw new MultipartError(`multipart document has ${parts.length - names.length} part(s) beyond its attachments`);
  }
  const wanted = new Set(names);
  const named = new Map<string, Buffer>();
  let unnamed: Buffer[] = [];
  for (const part of parts) {
    const filename = filenameOf(part);
    if (filename === undefined) {
      unnamed.push(part.body);
    } else if (wanted.has(filename) && !named.has(filename)) {
      named.set(filename, part.body);
    } else {
      // Some writers put names in the header unescaped; a filename that matches nothing means "use order".
      named.clear();
      unnamed = parts.map((p) => p.body);
      break;
    }
  }
  const result = new Map<string, Buffer>();
  let next = 0;
  for (const name of names) {
    const data = named.get(name) ?? unnamed[next++];
    if (data === undefined) throw new MultipartError(`attachment "${name}" is marked follows but has no part`);
    result.set(name, data);
  }
  return result;
}

function filenameOf(part: MultipartPart): string | undefined {
  const disposition = part.headers['content-disposition'];
  return disposition === undefined ? undefined : parseContentType(disposition).params['filename'];
}

function checkLength(name: string, entry: JsonObject | undefined, data: Buffer): void {
  const declared = entry?.['encoding'] === undefined ? entry?.['length'] : entry['encoded_length'];
  if (typeof declared === 'number' && declared !== data.length) {
    throw new MultipartError(`attachment "${name}" declares ${declared} bytes but its part has ${data.length}`);
  }
}

function followsDocument(doc: JsonObject, attachments: AttachmentBody[]): { json: string; ordered: AttachmentBody[] } {
  if (attachments.length === 0) return { json: JSON.stringify(doc), ordered: [] };
  const byName = new Map<string, AttachmentBody>();
  for (const att of attachments) {
    if (byName.has(att.name)) throw new MultipartError(`attachment "${att.name}" is listed twice`);
    byName.set(att.name, att);
  }
  const current = isObject(doc['_attachments']) ? doc['_attachments'] : {};
  const entries = Object.entries(current);
  for (const name of byName.keys()) if (!Object.hasOwn(current, name)) entries.push([name, undefined]);
  // fromEntries defines own properties, so a "__proto__" attachment name stays an ordinary key.
  const stubs = Object.fromEntries(
    entries.map(([name, value]) => {
      const att = byName.get(name);
      return [name, att === undefined ? value : followsEntry(value, att)];
    }),
  );
  const json = JSON.stringify({ ...doc, _attachments: stubs });
  // Parts must follow the order in which JSON.stringify wrote the entries.
  const ordered = Object.keys(stubs).flatMap((name) => byName.get(name) ?? []);
  return { json, ordered };
}

function followsEntry(previous: unknown, att: AttachmentBody): JsonObject {
  const kept = isObject(previous) ? Object.entries(previous) : [];
  const entry = Object.fromEntries(kept.filter(([key]) => key !== 'data' && key !== 'stub' && key !== 'follows'));
  entry['content_type'] = att.contentType;
  if (att.encoding === undefined) {
    entry['length'] = att.data.length;
    delete entry['encoding'];
    delete entry['encoded_length'];
  } else {
    entry['encoding'] = att.encoding;
    entry['encoded_length'] = att.data.length;
  }
  entry['follows'] = true;
  return entry;
}

function attachmentHeaders(att: AttachmentBody): Record<string, string> {
  const headers: Record<string, string> = {};
  // A name with control characters cannot travel in a header; the reader then falls back to part order.
  if (!hasControlChar(att.name)) {
    headers['Content-Disposition'] = `attachment; filename="${att.name.replace(/["\\]/g, '\\$&')}"`;
  }
  headers['Content-Type'] = att.contentType;
  if (att.encoding !== undefined) headers['Content-Encoding'] = att.encoding;
  return headers;
}
