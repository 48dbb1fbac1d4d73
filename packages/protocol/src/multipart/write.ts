import { isValidBoundary, randomBoundary } from './boundary.ts';
import { MultipartError } from './errors.ts';

export interface OutgoingPart {
  headers: Record<string, string>;
  body: Buffer | string;
}

export type MultipartSubtype = 'mixed' | 'related';

export interface WrittenMultipart {
  /** Ready for the Content-Type header, e.g. `multipart/related; boundary="..."`. */
  contentType: string;
  body: Buffer;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const UNSAFE_VALUE = /[\r\n\0]/;
const CRLF = Buffer.from('\r\n');

/**
 * Serialises parts with CRLF line breaks. String bodies are UTF-8 encoded. A caller-supplied boundary that
 * occurs in the content is an error; a random one is simply drawn again.
 */
export function writeMultipart(parts: OutgoingPart[], subtype: MultipartSubtype, boundary?: string): WrittenMultipart {
  const encoded = parts.map((part): [Buffer, Buffer] => [
    Buffer.from(headerBlock(part.headers), 'utf8'),
    typeof part.body === 'string' ? Buffer.from(part.body, 'utf8') : part.body,
  ]);
  let chosen = boundary;
  if (chosen !== undefined) {
    if (!isValidBoundary(chosen)) throw new MultipartError('multipart boundary is invalid');
    if (collides(chosen, encoded)) throw new MultipartError('multipart boundary occurs inside a part');
  } else {
    do chosen = randomBoundary();
    while (collides(chosen, encoded));
  }

  const chunks: Buffer[] = [];
  encoded.forEach(([head, body], i) => {
    chunks.push(Buffer.from(`${i === 0 ? '' : '\r\n'}--${chosen}\r\n`, 'latin1'), head, CRLF, body);
  });
  chunks.push(Buffer.from(`${parts.length === 0 ? '' : '\r\n'}--${chosen}--`, 'latin1'));
  return { contentType: `multipart/${subtype}; boundary="${chosen}"`, body: Buffer.concat(chunks) };
}

function headerBlock(headers: Record<string, string>): string {
  let block = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw new MultipartError(`invalid multipart header name "${name}"`);
    if (UNSAFE_VALUE.test(value)) throw new MultipartError(`multipart header "${name}" holds a line break or NUL`);
    block += `${name}: ${value}\r\n`;
  }
  return block;
}

function collides(boundary: string, encoded: ReadonlyArray<readonly Buffer[]>): boolean {
  const dashed = `--${boundary}`;
  return encoded.some((buffers) => buffers.some((buffer) => buffer.includes(dashed)));
}
