import { badRequest, tooLarge } from '../../base/errors.ts';
import type { AttachmentMap, AttachmentMeta } from '../doc-meta.ts';
import { isPlainObject } from '../crud/incoming.ts';
import { attachmentDigest, decodeBase64 } from './digest.ts';

export interface ResolveContext {
  /** Generation of the revision being written; new or changed attachments get it as revpos. */
  generation: number;
  /** Attachments known for the parent revision (or any known revision of the document). */
  known: (name: string, digest: string | undefined) => AttachmentMeta | undefined;
  /** Attachment bodies that arrived as multipart parts ("follows": true). */
  follows?: ReadonlyMap<string, Buffer>;
  maxSize: number;
  /** True when replicating (new_edits=false): the client's revpos is kept. */
  keepRevpos: boolean;
  /** Called before a blob is checked or stored, so that compaction leaves it alone until the commit. */
  pin: (digest: string) => void;
  hasBlob: (digest: string) => Promise<boolean>;
  putBlob: (digest: string, data: Uint8Array) => Promise<void>;
}

function stringField(att: Record<string, unknown>, key: string): string | undefined {
  const value = att[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest(`Attachment ${key} must be a string`);
  return value;
}

/** A content type is sent back as a Content-Type header (and in multipart part headers): printable ASCII only. */
function contentTypeField(att: Record<string, unknown>): string {
  const value = stringField(att, 'content_type') ?? 'application/octet-stream';
  if (!/^[\x20-\x7e]*$/.test(value)) throw badRequest('Attachment content_type must be printable ASCII');
  return value;
}

function intField(att: Record<string, unknown>, key: string): number | undefined {
  const value = att[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw badRequest(`Attachment ${key} must be a non-negative integer`);
  return value;
}

async function resolveStub(name: string, att: Record<string, unknown>, ctx: ResolveContext): Promise<AttachmentMeta> {
  const digest = stringField(att, 'digest');
  const known = ctx.known(name, digest);
  if (known) return known;
  if (digest !== undefined) ctx.pin(digest);
  if (digest !== undefined && (await ctx.hasBlob(digest))) {
    const length = intField(att, 'length');
    if (length === undefined) throw badRequest(`Attachment stub "${name}" has no length`);
    return {
      content_type: contentTypeField(att),
      digest,
      length,
      revpos: intField(att, 'revpos') ?? ctx.generation,
    };
  }
  throw badRequest(`Missing attachment for stub "${name}"`);
}

async function resolveData(name: string, att: Record<string, unknown>, ctx: ResolveContext): Promise<AttachmentMeta> {
  let data: Buffer | undefined;
  if (att.follows === true) {
    data = ctx.follows?.get(name);
    if (!data) throw badRequest(`Attachment "${name}" says it follows but no part carries it`);
  } else if (typeof att.data === 'string') {
    data = decodeBase64(att.data) ?? undefined;
    if (!data) throw badRequest(`Attachment "${name}" data is not valid base64`);
  } else {
    throw badRequest(`Attachment "${name}" must have data, follows or stub`);
  }
  if (data.length > ctx.maxSize) throw tooLarge(`Attachment "${name}" is larger than ${ctx.maxSize} bytes`);
  const digest = attachmentDigest(data);
  const known = ctx.known(name, digest);
  ctx.pin(digest);
  if (!(await ctx.hasBlob(digest))) await ctx.putBlob(digest, data);
  const revpos = ctx.keepRevpos ? (intField(att, 'revpos') ?? ctx.generation) : (known?.revpos ?? ctx.generation);
  return {
    content_type: contentTypeField(att),
    digest,
    length: data.length,
    revpos,
  };
}

/** Turns a client's `_attachments` object into stored attachment metadata, saving new bodies in the blob store. */
export async function resolveAttachments(raw: Record<string, unknown> | undefined, ctx: ResolveContext): Promise<AttachmentMap> {
  const result: AttachmentMap = {};
  if (!raw) return result;
  for (const [name, att] of Object.entries(raw)) {
    if (name.length === 0) throw badRequest('Attachment name must not be empty');
    if (!isPlainObject(att)) throw badRequest(`Attachment "${name}" must be an object`);
    result[name] = att.stub === true ? await resolveStub(name, att, ctx) : await resolveData(name, att, ctx);
  }
  return result;
}

/** Attachment digests in revision-ID input: only names and digests matter, so stub vs inline gives the same ID. */
export function digestsForRevId(atts: AttachmentMap): Record<string, { digest: string }> | undefined {
  const names = Object.keys(atts);
  if (names.length === 0) return undefined;
  const out: Record<string, { digest: string }> = {};
  for (const name of names) out[name] = { digest: atts[name]!.digest };
  return out;
}
