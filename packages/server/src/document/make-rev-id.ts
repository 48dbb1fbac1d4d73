import { createHash, hash } from 'node:crypto';
import { canonicalJson, canonicalKeys, NOT_PLAIN, sortedCopy } from './canonical-json.ts';
import { canonicalFromJson } from './canonical-text.ts';
import { badRequest } from '../base/errors.ts';
import { formatRevId, isValidRevId, parseRevId } from './rev-id.ts';

export interface MakeRevIdOptions {
  parent: string | null;
  deleted: boolean;
  body: Record<string, unknown>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * An attachment contributes its name and content digest only, so a stub and the same attachment sent inline
 * produce the same revision ID. Inline data without a digest gets the CouchDB-style md5 digest of its bytes.
 */
function attachmentDigest(attachment: unknown): unknown {
  if (!isPlainObject(attachment)) return null;
  if (typeof attachment.digest === 'string') return attachment.digest;
  if (typeof attachment.data === 'string') {
    return `md5-${createHash('md5').update(Buffer.from(attachment.data, 'base64')).digest('base64')}`;
  }
  return null;
}

function attachmentDigests(attachments: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attachments).map(([name, att]): [string, unknown] => [name, attachmentDigest(att)]));
}

/** The hashed part of a body: user properties, and `_attachments` reduced to digests. */
function hashedContent(body: Record<string, unknown>): Record<string, unknown> {
  const entries: Array<[string, unknown]> = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === '_attachments' && isPlainObject(value)) entries.push([key, attachmentDigests(value)]);
    else if (!key.startsWith('_')) entries.push([key, value]);
  }
  return Object.fromEntries(entries);
}

/** hashedContent with its keys (and those of everything inside) in canonical order, or NOT_PLAIN. */
function sortedContent(body: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = {};
  for (const key of canonicalKeys(body)) {
    const value = body[key];
    let item: unknown;
    if (key === '_attachments' && isPlainObject(value)) item = sortedCopy(attachmentDigests(value), 2);
    else if (key.startsWith('_')) continue;
    else if (key.charCodeAt(0) >= 48 && key.charCodeAt(0) <= 57) return NOT_PLAIN;
    else item = sortedCopy(value, 2);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    out[key] = item;
  }
  return typeof out.toJSON === 'function' ? NOT_PLAIN : out;
}

const nextGeneration = (parent: string | null): number => (parent === null ? 1 : parseRevId(parent).generation + 1);

function revIdOf(generation: number, hashed: string): string {
  const rev = formatRevId(generation, hash('md5', hashed, 'hex'));
  if (!isValidRevId(rev)) throw badRequest('Revision generation out of range');
  return rev;
}

/** Computes the revision ID of an edit; identical edits (same parent, deletion flag and content) get the same ID. */
export function makeRevId(opts: MakeRevIdOptions): string {
  const generation = nextGeneration(opts.parent);
  const sorted = sortedContent(opts.body);
  const text =
    sorted === NOT_PLAIN
      ? canonicalJson([opts.parent ?? '', opts.deleted, hashedContent(opts.body)])
      : JSON.stringify([opts.parent ?? '', opts.deleted, sorted]);
  return revIdOf(generation, text);
}

/**
 * makeRevId for a body without `_` members (so no attachments) whose JSON.stringify text is already at hand:
 * the text is reordered instead of serialising the body again.
 */
export function makeRevIdFromJson(opts: MakeRevIdOptions, bodyJson: string): string {
  const generation = nextGeneration(opts.parent);
  const content = canonicalFromJson(bodyJson);
  if (content === null) return makeRevId(opts);
  return revIdOf(generation, `[${JSON.stringify(opts.parent ?? '')},${opts.deleted ? 'true' : 'false'},${content}]`);
}
