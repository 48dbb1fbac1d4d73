import { createHash } from 'node:crypto';
import type { JsonObject } from './store/local-store.ts';

/** A blob's digest: `sha1-` + base64 of the SHA-1 of its bytes. */
export function blobDigest(data: Uint8Array): string {
  return `sha1-${createHash('sha1').update(data).digest('base64')}`;
}

/** The answer to `proveAttachment`: SHA-1 over the nonce's length (one byte), the nonce and the data. */
export function proveAttachment(data: Uint8Array, nonce: Uint8Array): string {
  const hash = createHash('sha1');
  hash.update(Uint8Array.of(nonce.length & 0xff));
  hash.update(nonce);
  hash.update(data);
  return `sha1-${hash.digest('base64')}`;
}

export interface BlobRef {
  digest: string;
  length: number | undefined;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Digests a document body refers to: `_attachments` entries and inline `{"@type":"blob"}` dictionaries. */
export function blobRefs(body: JsonObject): BlobRef[] {
  const found = new Map<string, BlobRef>();
  const add = (meta: JsonObject): void => {
    if (typeof meta.digest !== 'string' || meta.digest === '') return;
    found.set(meta.digest, { digest: meta.digest, length: typeof meta.length === 'number' ? meta.length : undefined });
  };
  const atts = body._attachments;
  if (isObject(atts)) for (const meta of Object.values(atts)) if (isObject(meta)) add(meta);
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (isObject(value)) {
      if (value['@type'] === 'blob') add(value);
      else for (const [key, item] of Object.entries(value)) if (key !== '_attachments') walk(item);
    }
  };
  walk(body);
  return [...found.values()];
}

/** The body as sent in a pushed `rev`: every `_attachments` entry as a stub (bytes are fetched by digest). */
export function withAttachmentStubs(body: JsonObject): JsonObject {
  const atts = body._attachments;
  if (!isObject(atts)) return body;
  const stubs: JsonObject = {};
  for (const [name, meta] of Object.entries(atts)) {
    if (!isObject(meta)) continue;
    const { data: _data, follows: _follows, ...rest } = meta;
    stubs[name] = { ...rest, stub: true };
  }
  return { ...body, _attachments: stubs };
}
