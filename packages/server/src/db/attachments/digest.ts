import { createHash } from 'node:crypto';

/** Content digest used as the blob-store key and in `_attachments` metadata: "sha1-<base64>". */
export function attachmentDigest(data: Uint8Array): string {
  return `sha1-${createHash('sha1').update(data).digest('base64')}`;
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

export function decodeBase64(text: string): Buffer | null {
  if (!BASE64.test(text)) return null;
  return Buffer.from(text, 'base64');
}
