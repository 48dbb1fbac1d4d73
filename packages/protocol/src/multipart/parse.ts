import { isValidBoundary } from './boundary.ts';
import { parseContentType } from './content-type.ts';
import { MultipartError } from './errors.ts';

export interface MultipartPart {
  /** Header names are lower-cased; repeated headers are joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface MultipartLimits {
  maxParts?: number;
  /** Upper bound on the size of each part's header block. */
  maxHeaderBytes?: number;
}

export const DEFAULT_MAX_PARTS = 10_000;
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface Delimiter {
  /** Index where the content before this delimiter ends (its line break belongs to the delimiter). */
  start: number;
  /** Index just after the delimiter line. */
  next: number;
  close: boolean;
}

/**
 * Splits a multipart body into its parts. Accepts CRLF or bare LF line breaks, transport padding after
 * boundaries, a preamble and an epilogue. Runs in time linear in the body size and throws only MultipartError.
 */
export function parseMultipart(body: Buffer, contentType: string, limits: MultipartLimits = {}): MultipartPart[] {
  const boundary = boundaryOf(contentType);
  const maxParts = limits.maxParts ?? DEFAULT_MAX_PARTS;
  const maxHeaderBytes = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const needle = Buffer.from(`\n--${boundary}`, 'latin1');

  let delimiter = openingDelimiter(body, needle);
  if (delimiter === undefined) throw new MultipartError('multipart body has no opening boundary delimiter');
  const parts: MultipartPart[] = [];
  while (!delimiter.close) {
    if (parts.length >= maxParts) throw new MultipartError(`multipart body has more than ${maxParts} parts`);
    // Searching from the previous line's LF tolerates an empty part written as "--b\r\n--b".
    const next = findDelimiter(body, needle, delimiter.next - 1, delimiter.next);
    if (next === undefined) throw new MultipartError('multipart body has no closing boundary delimiter');
    parts.push(parsePart(body, delimiter.next, next.start, maxHeaderBytes));
    delimiter = next;
  }
  return parts;
}

function boundaryOf(contentType: string): string {
  const { type, params } = parseContentType(contentType);
  if (!type.startsWith('multipart/')) throw new MultipartError(`expected a multipart content type, got "${type}"`);
  const boundary = params['boundary'];
  if (boundary === undefined) throw new MultipartError('multipart content type has no boundary parameter');
  if (!isValidBoundary(boundary)) throw new MultipartError('multipart boundary is invalid');
  return boundary;
}

function openingDelimiter(body: Buffer, needle: Buffer): Delimiter | undefined {
  if (body.subarray(0, needle.length - 1).equals(needle.subarray(1))) {
    const found = delimiterTail(body, needle.length - 1);
    if (found !== undefined) return { start: 0, ...found };
  }
  return findDelimiter(body, needle, 0, 0);
}

/**
 * Finds the next "\n--boundary" that is followed by "--" or by optional padding and a line break. Matches of
 * the needle cannot overlap (the boundary holds no LF), so skipping rejected ones keeps the scan linear.
 */
function findDelimiter(body: Buffer, needle: Buffer, from: number, contentStart: number): Delimiter | undefined {
  for (let i = body.indexOf(needle, from); i !== -1; i = body.indexOf(needle, i + 1)) {
    const found = delimiterTail(body, i + needle.length);
    if (found === undefined) continue;
    const start = i - 1 >= contentStart && body[i - 1] === CR ? i - 1 : Math.max(i, contentStart);
    return { start, ...found };
  }
  return undefined;
}

function delimiterTail(body: Buffer, at: number): Omit<Delimiter, 'start'> | undefined {
  if (body[at] === DASH && body[at + 1] === DASH) return { next: at + 2, close: true };
  let i = at;
  while (body[i] === SPACE || body[i] === TAB) i++;
  if (body[i] === LF) return { next: i + 1, close: false };
  if (body[i] === CR && body[i + 1] === LF) return { next: i + 2, close: false };
  return undefined;
}

function parsePart(body: Buffer, start: number, end: number, maxHeaderBytes: number): MultipartPart {
  const headers = Object.create(null) as Record<string, string>;
  const windowEnd = Math.min(end, start + maxHeaderBytes);
  let last: string | undefined;
  let pos = start;
  for (;;) {
    const offset = body.subarray(pos, windowEnd).indexOf(LF);
    if (offset === -1) {
      if (windowEnd < end) throw new MultipartError(`multipart part headers exceed ${maxHeaderBytes} bytes`);
      // A part may legally consist of header lines only, with no blank line and no body.
      if (pos === end) return { headers, body: body.subarray(end, end) };
      throw new MultipartError('multipart part headers are not terminated by a blank line');
    }
    const lf = pos + offset;
    const lineEnd = lf > pos && body[lf - 1] === CR ? lf - 1 : lf;
    if (lineEnd === pos) return { headers, body: body.subarray(lf + 1, end) };
    const line = body.toString('utf8', pos, lineEnd);
    pos = lf + 1;
    if (line[0] === ' ' || line[0] === '\t') {
      if (last === undefined) throw new MultipartError('multipart part starts with a folded header line');
      headers[last] = `${headers[last] ?? ''} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) throw new MultipartError('multipart part has a malformed header line');
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
    last = name;
  }
}
