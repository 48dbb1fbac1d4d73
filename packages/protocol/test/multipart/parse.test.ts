import { describe, expect, it } from 'vitest';
import { MultipartError, parseMultipart } from '../../src/index.ts';
import { couchPutBody, couchPutType, crlf, lf } from './samples.ts';

const text = (buf: Buffer): string => buf.toString('utf8');

describe('parseMultipart', () => {
  it('parses a CouchDB-style multipart/related PUT body', () => {
    const parts = parseMultipart(couchPutBody, couchPutType);
    expect(parts).toHaveLength(2);
    expect(parts[0]?.headers).toEqual({ 'content-type': 'application/json' });
    expect(JSON.parse(text(parts[0]!.body))).toMatchObject({ _id: 'doc' });
    expect(parts[1]?.headers).toEqual({
      'content-disposition': 'attachment; filename="foo.txt"',
      'content-type': 'text/plain',
    });
    expect(text(parts[1]!.body)).toBe('this is 21 chars long');
  });

  it('accepts bare LF line breaks', () => {
    const body = lf('--b', 'Content-Type: text/plain', '', 'one', '--b', '', 'two', '--b--', '');
    const parts = parseMultipart(body, 'multipart/mixed; boundary=b');
    expect(parts.map((p) => text(p.body))).toEqual(['one', 'two']);
    expect(parts[1]?.headers).toEqual({});
  });

  it('ignores preamble and epilogue', () => {
    const body = crlf(
      'This is a preamble, --b is not at line start.',
      '--bb',
      '--b',
      'A: 1',
      '',
      'x',
      '--b--',
      'epilogue with',
      '--b',
      'more',
    );
    const parts = parseMultipart(body, 'multipart/mixed; boundary="b"');
    expect(parts).toEqual([{ headers: { a: '1' }, body: Buffer.from('x') }]);
  });

  it('accepts transport padding after boundaries and keeps trailing CRLF of a body', () => {
    const body = crlf('--b \t', '', 'line', '', '--b\t', '', '', '--b--  ');
    const parts = parseMultipart(body, 'multipart/related; boundary=b');
    expect(parts.map((p) => text(p.body))).toEqual(['line\r\n', '']);
  });

  it('handles boundaries with RFC 2046 special characters', () => {
    const boundary = "'()+_,-./:=? x";
    const body = crlf(`--${boundary}`, '', 'data', `--${boundary}--`);
    const parts = parseMultipart(body, `multipart/mixed; boundary="${boundary}"`);
    expect(parts.map((p) => text(p.body))).toEqual(['data']);
  });

  it('normalises header names and joins repeats and folded lines', () => {
    const body = crlf('--b', 'X-Thing: a', 'x-thing: b', 'Content-Type: text/plain;', '  charset=utf-8', '', 'z', '--b--');
    const [part] = parseMultipart(body, 'multipart/mixed; boundary=b');
    expect(part?.headers).toEqual({ 'x-thing': 'a, b', 'content-type': 'text/plain; charset=utf-8' });
  });

  it('decodes UTF-8 header values', () => {
    const body = crlf('--b', 'Content-Disposition: attachment; filename="résumé ☃.txt"', '', 'z', '--b--');
    const [part] = parseMultipart(body, 'multipart/mixed; boundary=b');
    expect(part?.headers['content-disposition']).toBe('attachment; filename="résumé ☃.txt"');
  });

  it('accepts parts with headers but no body, and empty parts', () => {
    const headersOnly = crlf('--b', 'A: 1', '', '--b--');
    expect(parseMultipart(headersOnly, 'multipart/mixed; boundary=b')).toEqual([
      { headers: { a: '1' }, body: Buffer.alloc(0) },
    ]);
    const empty = crlf('--b', '--b', '', 'x', '--b--');
    expect(parseMultipart(empty, 'multipart/mixed; boundary=b').map((p) => text(p.body))).toEqual(['', 'x']);
    expect(parseMultipart(Buffer.from('--b--'), 'multipart/mixed; boundary=b')).toEqual([]);
  });

  it('keeps binary data that only resembles a delimiter', () => {
    const tricky = Buffer.concat([
      Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a, 0x0d]),
      Buffer.from('\r\n--abc12\r\n'), // a prefix of the boundary
      Buffer.from('\r\n--abc123X\r\n'), // boundary followed by more characters
      Buffer.from('\r\n--abc123-\r\n'), // a single dash is not a close delimiter
      Buffer.from('x--abc123\r\n'), // not at the start of a line
      Buffer.from('\r\n-abc123\r\n\r\n---abc123--'),
      Buffer.from('\r\n--ABC123\r\n'), // boundaries are case-sensitive
      Buffer.from('\r\n--abc123'), // at the very end, then the real delimiter follows
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      Buffer.from('\r'),
    ]);
    const body = Buffer.concat([
      Buffer.from('--abc123\r\nContent-Type: application/octet-stream\r\n\r\n'),
      tricky,
      Buffer.from('\r\n--abc123\r\n\r\nsecond\r\n--abc123--\r\n'),
    ]);
    const parts = parseMultipart(body, 'multipart/related; boundary="abc123"');
    expect(parts).toHaveLength(2);
    expect(parts[0]?.body.equals(tricky)).toBe(true);
    expect(text(parts[1]!.body)).toBe('second');
  });

  it('parses a multipart/mixed body holding multipart/related parts', () => {
    const inner = crlf(
      '--inner',
      'Content-Type: application/json',
      '',
      '{"_id":"a","_rev":"1-x","_attachments":{"a.bin":{"follows":true,"length":3}}}',
      '--inner',
      'Content-Disposition: attachment; filename="a.bin"',
      '',
      'abc',
      '--inner--',
    );
    const body = Buffer.concat([
      crlf('--outer', 'Content-Type: multipart/related; boundary="inner"', '', ''),
      inner,
      crlf('', '--outer', 'Content-Type: application/json; error="true"', '', '{"missing":"3-abc"}', '--outer--'),
    ]);
    const outer = parseMultipart(body, 'multipart/mixed; boundary="outer"');
    expect(outer).toHaveLength(2);
    expect(outer[0]?.body.equals(inner)).toBe(true);
    const nested = parseMultipart(outer[0]!.body, outer[0]!.headers['content-type']!);
    expect(nested.map((p) => text(p.body))).toEqual([
      '{"_id":"a","_rev":"1-x","_attachments":{"a.bin":{"follows":true,"length":3}}}',
      'abc',
    ]);
    expect(JSON.parse(text(outer[1]!.body))).toEqual({ missing: '3-abc' });
  });

  describe('errors', () => {
    const body = crlf('--b', '', 'x', '--b--');
    const fails = (fn: () => unknown, message: RegExp): void => {
      expect(fn).toThrow(MultipartError);
      expect(fn).toThrow(message);
    };

    it('rejects missing or invalid boundaries', () => {
      fails(() => parseMultipart(body, 'application/json'), /expected a multipart/);
      fails(() => parseMultipart(body, 'multipart/mixed'), /no boundary/);
      fails(() => parseMultipart(body, 'multipart/mixed; boundary=""'), /invalid/);
      fails(() => parseMultipart(body, 'multipart/mixed; boundary="b "'), /invalid/);
      fails(() => parseMultipart(body, 'multipart/mixed; boundary=a@b'), /invalid/);
      fails(() => parseMultipart(body, `multipart/mixed; boundary=${'x'.repeat(71)}`), /invalid/);
    });

    it('rejects bodies without delimiters', () => {
      fails(() => parseMultipart(Buffer.alloc(0), 'multipart/mixed; boundary=b'), /no opening/);
      fails(() => parseMultipart(Buffer.from('--bx\r\n'), 'multipart/mixed; boundary=b'), /no opening/);
      fails(() => parseMultipart(crlf('--b', '', 'x'), 'multipart/mixed; boundary=b'), /no closing/);
      fails(() => parseMultipart(crlf('--b', '', 'x', '--b'), 'multipart/mixed; boundary=b'), /no closing/);
    });

    it('rejects malformed headers', () => {
      const type = 'multipart/mixed; boundary=b';
      fails(() => parseMultipart(crlf('--b', 'no colon here', '', 'x', '--b--'), type), /malformed header/);
      fails(() => parseMultipart(crlf('--b', 'bad name: 1', '', 'x', '--b--'), type), /malformed header/);
      fails(() => parseMultipart(crlf('--b', ': empty', '', 'x', '--b--'), type), /malformed header/);
      fails(() => parseMultipart(crlf('--b', ' folded: 1', '', 'x', '--b--'), type), /folded/);
      fails(() => parseMultipart(crlf('--b', '{"json":"no headers"}', '', '--b--'), type), /malformed header/);
      fails(() => parseMultipart(crlf('--b', '{"json":"no headers"}', '--b--'), type), /blank line/);
      fails(() => parseMultipart(crlf('--b', 'A: 1', 'B: 2', '--b--'), type), /blank line/);
    });

    it('enforces limits', () => {
      const three = crlf('--b', '', '1', '--b', '', '2', '--b', '', '3', '--b--');
      expect(parseMultipart(three, 'multipart/mixed; boundary=b', { maxParts: 3 })).toHaveLength(3);
      fails(() => parseMultipart(three, 'multipart/mixed; boundary=b', { maxParts: 2 }), /more than 2 parts/);
      const longHeader = crlf('--b', `X: ${'y'.repeat(200)}`, '', 'z', '--b--');
      expect(parseMultipart(longHeader, 'multipart/mixed; boundary=b', { maxHeaderBytes: 300 })).toHaveLength(1);
      fails(() => parseMultipart(longHeader, 'multipart/mixed; boundary=b', { maxHeaderBytes: 100 }), /exceed 100/);
    });
  });

  describe('adversarial inputs', () => {
    const outcome = (fn: () => unknown): unknown => {
      try {
        return fn();
      } catch (err) {
        if (!(err instanceof MultipartError)) throw err;
        return err;
      }
    };

    it('parses a body full of near-delimiters as one part', () => {
      const boundary = 'x'.repeat(70);
      const near = Buffer.from(`\r\n--${'x'.repeat(69)}y`.repeat(50_000));
      const body = Buffer.concat([Buffer.from(`--${boundary}\r\n\r\n`), near, Buffer.from(`\r\n--${boundary}--`)]);
      const parts = parseMultipart(body, `multipart/mixed; boundary=${boundary}`);
      expect(parts).toHaveLength(1);
      expect(parts[0]!.body.length).toBe(near.length);
    });

    it('rejects huge unterminated header blocks and delimiter floods with a MultipartError', () => {
      const lines = Buffer.from(`--b\r\n${'A: 1\n'.repeat(200_000)}`);
      expect(outcome(() => parseMultipart(lines, 'multipart/mixed; boundary=b', { maxHeaderBytes: 1e9 }))).toBeInstanceOf(MultipartError);
      const delimiters = Buffer.from('--b\r\n\r\n'.repeat(100_000));
      expect(outcome(() => parseMultipart(delimiters, 'multipart/mixed; boundary=b', { maxParts: 1e9 }))).toBeInstanceOf(MultipartError);
    });
  });
});
