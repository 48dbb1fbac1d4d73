import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
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

function hashedContent(body: Record<string, unknown>): Array<[string, unknown]> {
  const entries: Array<[string, unknown]> = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === '_attachments' && isPlainObject(value)) {
      const digests = Object.entries(value).map(([name, att]): [string, unknown] => [name, attachmentDigest(att)]);
      entries.push([key, Object.fromEntries(digests)]);
    } else if (!key.startsWith('_')) {
      entries.push([key, value]);
    }
  }
  return entries;
}

/** Computes the revision ID of an edit; identical edits (same parent, deletion flag and content) get the same ID. */
export function makeRevId(opts: MakeRevIdOptions): string {
  const generation = opts.parent === null ? 1 : parseRevId(opts.parent).generation + 1;
  const content = Object.fromEntries(hashedContent(opts.body));
  const digest = createHash('md5')
    .update(canonicalJson([opts.parent ?? '', opts.deleted, content]))
    .digest('hex');
  const rev = formatRevId(generation, digest);
  if (!isValidRevId(rev)) throw badRequest('Revision generation out of range');
  return rev;
}
