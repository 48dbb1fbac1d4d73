export interface ContentType {
  /** Lower-cased media type (`multipart/related`), or the disposition type for Content-Disposition. */
  type: string;
  /** Parameter names are lower-cased; values keep their case with quoting and escapes removed. */
  params: Record<string, string>;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';

/**
 * Parses a Content-Type (or Content-Disposition) header value. Lenient by design: it never throws, skips
 * parameters without a name or `=`, keeps the first of repeated parameters and accepts an unterminated quote.
 */
export function parseContentType(header: string): ContentType {
  const semi = header.indexOf(';');
  const type = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  let i = semi === -1 ? header.length : semi + 1;
  while (i < header.length) {
    while (isSpace(header[i]) || header[i] === ';') i++;
    const nameStart = i;
    while (i < header.length && header[i] !== '=' && header[i] !== ';') i++;
    const name = header.slice(nameStart, i).trim().toLowerCase();
    if (header[i] !== '=') continue;
    i++;
    while (isSpace(header[i])) i++;
    let value: string;
    if (header[i] === '"') {
      [value, i] = readQuoted(header, i + 1);
      while (i < header.length && header[i] !== ';') i++;
    } else {
      const valueStart = i;
      while (i < header.length && header[i] !== ';') i++;
      value = header.slice(valueStart, i).trim();
    }
    if (name !== '' && !(name in params)) params[name] = value;
  }
  return { type, params };
}

/** Reads a quoted-string body starting just after the opening quote; returns the value and the index after it. */
function readQuoted(s: string, start: number): [string, number] {
  let out = '';
  let i = start;
  while (i < s.length) {
    const c = s[i];
    if (c === '"') return [out, i + 1];
    if (c === '\\' && i + 1 < s.length) {
      out += s[i + 1];
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  return [out, i];
}
