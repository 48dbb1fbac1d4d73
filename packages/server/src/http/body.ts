import type { IncomingMessage } from 'node:http';
import { badContentType, badRequest, tooLarge } from '../base/errors.ts';

export const MAX_REQUEST_BYTES = 128 * 1024 * 1024;
/** Deeper JSON would overflow the stack when the server serializes or hashes it. */
export const MAX_JSON_DEPTH = 512;

/** Reads the whole request body, refusing (413) anything larger than `limit`. */
export async function readBody(req: IncomingMessage, limit = MAX_REQUEST_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(`Request body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(`Request body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Recursion stops at MAX_JSON_DEPTH + 1, well within the stack, however deep the value is. */
function checkDepth(item: object, depth: number): void {
  if (depth > MAX_JSON_DEPTH) throw badRequest(`JSON is nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (Array.isArray(item)) {
    for (let i = 0; i < item.length; i++) {
      const child: unknown = item[i];
      if (child !== null && typeof child === 'object') checkDepth(child, depth + 1);
    }
    return;
  }
  for (const key in item) {
    const child: unknown = (item as Record<string, unknown>)[key];
    if (child !== null && typeof child === 'object' && Object.hasOwn(item, key)) checkDepth(child, depth + 1);
  }
}

/** Refuses (400) a parsed JSON value nested deeper than MAX_JSON_DEPTH; returns it unchanged otherwise. */
export function checkJsonDepth(value: unknown): unknown {
  if (value !== null && typeof value === 'object') checkDepth(value, 1);
  return value;
}

export function parseJson(buffer: Buffer): unknown {
  if (buffer.length === 0) throw badRequest('Request body is empty; a JSON body is required');
  let value: unknown;
  try {
    value = JSON.parse(buffer.toString('utf8'));
  } catch {
    throw badRequest('Request body is not valid JSON');
  }
  return checkJsonDepth(value);
}

/** Reads a JSON body. A Content-Type other than application/json (when one is given) is refused with 415. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = mediaType(req);
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw badContentType('Content-Type must be application/json');
  }
  return parseJson(await readBody(req));
}
