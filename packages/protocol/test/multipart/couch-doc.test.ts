import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeDocumentMultipart,
  decodeRevisionsMixed,
  encodeDocumentRelated,
  encodeRevisionsMixed,
  MultipartError,
  parseMultipart,
} from '../../src/index.ts';
import type { AttachmentBody } from '../../src/index.ts';
import { couchPutBody, couchPutType, crlf } from './samples.ts';

const related = 'multipart/related; boundary=b';
const follows = (length?: number) => ({ follows: true, content_type: 'application/octet-stream', length });
const docWith = (names: string[]) => JSON.stringify({ _id: 'd', _attachments: Object.fromEntries(names.map((n) => [n, follows()])) });
const asText = (atts: Map<string, Buffer>) => Object.fromEntries([...atts].map(([k, v]) => [k, v.toString('utf8')]));

describe('decodeDocumentMultipart', () => {
  it('decodes a CouchDB replicator PUT body', () => {
    const { doc, attachments } = decodeDocumentMultipart(couchPutBody, couchPutType);
    expect(doc).toEqual({
      _id: 'doc',
      _rev: '2-abc',
      _attachments: { 'foo.txt': { follows: true, content_type: 'text/plain', length: 21, digest: 'md5-x' } },
    });
    expect(asText(attachments)).toEqual({ 'foo.txt': 'this is 21 chars long' });
  });

  it('matches parts by filename when present', () => {
    const body = crlf(
      '--b', 'Content-Type: application/json', '', docWith(['one', 'two', 'three']),
      '--b', 'Content-Disposition: attachment; filename="three"', '', '3',
      '--b', '', '1',
      '--b', 'Content-Disposition: attachment; filename=one', '', 'first',
      '--b--',
    );
    expect(asText(decodeDocumentMultipart(body, related).attachments)).toEqual({ one: 'first', two: '1', three: '3' });
  });

  it('matches parts by order when filenames are absent or do not fit', () => {
    const noNames = crlf('--b', '', docWith(['x', 'y']), '--b', '', 'X', '--b', '', 'Y', '--b--');
    expect(asText(decodeDocumentMultipart(noNames, related).attachments)).toEqual({ x: 'X', y: 'Y' });
    // An unescaped quote in the name, as some writers produce, spoils the header: fall back to order.
    const unescaped = crlf(
      '--b', '', docWith(['a"b', 'c']),
      '--b', 'Content-Disposition: attachment; filename="a"b"', '', 'AB',
      '--b', 'Content-Disposition: attachment; filename="c"', '', 'C',
      '--b--',
    );
    expect(asText(decodeDocumentMultipart(unescaped, related).attachments)).toEqual({ 'a"b': 'AB', c: 'C' });
  });

  it('follows the JSON text order even for integer-like names', () => {
    const json = '{"_id":"d","_attachments":{"b":{"follows":true},"2":{"stub":true},"10":{"follows":true},"1":{"follows":true}}}';
    const body = crlf('--b', '', json, '--b', '', 'B', '--b', '', 'TEN', '--b', '', 'ONE', '--b--');
    expect(asText(decodeDocumentMultipart(body, related).attachments)).toEqual({ b: 'B', 10: 'TEN', 1: 'ONE' });
  });

  it('ignores stubs and inline attachments and accepts a lone JSON part', () => {
    const json = '{"_id":"d","_attachments":{"s":{"stub":true},"i":{"data":"aGk="}}}';
    const { doc, attachments } = decodeDocumentMultipart(crlf('--b', '', json, '--b--'), related);
    expect(doc['_id']).toBe('d');
    expect(attachments.size).toBe(0);
  });

  it('checks declared lengths, using encoded_length for encoded attachments', () => {
    const json = (entry: object) => JSON.stringify({ _attachments: { a: { follows: true, ...entry } } });
    const body = (entry: object) => crlf('--b', '', json(entry), '--b', '', 'abc', '--b--');
    expect(decodeDocumentMultipart(body({ length: 3 }), related).attachments.size).toBe(1);
    expect(decodeDocumentMultipart(body({ encoding: 'gzip', length: 99, encoded_length: 3 }), related).attachments.size).toBe(1);
    expect(() => decodeDocumentMultipart(body({ length: 4 }), related)).toThrow(/declares 4 bytes/);
    expect(() => decodeDocumentMultipart(body({ encoding: 'gzip', encoded_length: 2 }), related)).toThrow(MultipartError);
  });

  describe('errors', () => {
    const cases: Array<[string, Buffer, string, RegExp]> = [
      ['not related', crlf('--b', '', '{}', '--b--'), 'multipart/mixed; boundary=b', /expected multipart\/related/],
      ['no parts', Buffer.from('--b--'), related, /no parts/],
      ['non-JSON first part', crlf('--b', 'Content-Type: text/plain', '', '{}', '--b--'), related, /application\/json/],
      ['invalid JSON', crlf('--b', 'Content-Type: application/json', '', '{"a":', '--b--'), related, /not valid JSON/],
      ['JSON array', crlf('--b', '', '[1]', '--b--'), related, /not a JSON object/],
      ['JSON null', crlf('--b', '', 'null', '--b--'), related, /not a JSON object/],
      ['bad _attachments', crlf('--b', '', '{"_attachments":[]}', '--b--'), related, /"_attachments"/],
      ['missing part', crlf('--b', '', docWith(['a', 'b']), '--b', '', 'A', '--b--'), related, /"b" is marked follows/],
      ['extra part', crlf('--b', '', docWith(['a']), '--b', '', 'A', '--b', '', 'B', '--b--'), related, /beyond/],
      ['extra part without follows', crlf('--b', '', '{"_id":"x"}', '--b', '', 'A', '--b--'), related, /beyond/],
      ['malformed multipart', crlf('--b', '', '{}'), related, /closing/],
    ];
    it.each(cases)('rejects %s', (_, body, type, message) => {
      const decode = () => decodeDocumentMultipart(body, type);
      expect(decode).toThrow(MultipartError);
      expect(decode).toThrow(message);
    });
  });
});

describe('encodeDocumentRelated', () => {
  const doc = {
    _id: 'doc',
    _rev: '3-abc',
    _attachments: {
      'keep.txt': { stub: true, content_type: 'text/plain', length: 1, digest: 'md5-k', revpos: 1 },
      'img.png': { stub: true, content_type: 'image/png', length: 4, digest: 'md5-i', revpos: 2 },
      'inline.txt': { data: 'aGk=', content_type: 'text/plain' },
    },
    title: 'hello',
  };

  it('marks listed attachments as follows without mutating the document', () => {
    const before = structuredClone(doc);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const out = encodeDocumentRelated(doc, [
      { name: 'img.png', contentType: 'image/png', data: png },
      { name: 'inline.txt', contentType: 'text/plain', data: Buffer.from('hi') },
      { name: 'new.gz', contentType: 'text/plain', data: Buffer.from([31, 139]), encoding: 'gzip' },
    ]);
    expect(doc).toEqual(before);
    expect(out.contentType).toMatch(/^multipart\/related; boundary="[0-9a-f]{32}"$/);

    const parts = parseMultipart(out.body, out.contentType);
    expect(parts[0]?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(parts[0]!.body.toString('utf8'))).toEqual({
      _id: 'doc',
      _rev: '3-abc',
      _attachments: {
        'keep.txt': doc._attachments['keep.txt'],
        'img.png': { content_type: 'image/png', length: 4, digest: 'md5-i', revpos: 2, follows: true },
        'inline.txt': { content_type: 'text/plain', length: 2, follows: true },
        'new.gz': { content_type: 'text/plain', encoding: 'gzip', encoded_length: 2, follows: true },
      },
      title: 'hello',
    });
    expect(parts.slice(1).map((p) => p.headers)).toEqual([
      { 'content-disposition': 'attachment; filename="img.png"', 'content-type': 'image/png' },
      { 'content-disposition': 'attachment; filename="inline.txt"', 'content-type': 'text/plain' },
      { 'content-disposition': 'attachment; filename="new.gz"', 'content-type': 'text/plain', 'content-encoding': 'gzip' },
    ]);
    expect(parts[1]?.body.equals(png)).toBe(true);

    const decoded = decodeDocumentMultipart(out.body, out.contentType);
    expect([...decoded.attachments.keys()]).toEqual(['img.png', 'inline.txt', 'new.gz']);
    expect(decoded.attachments.get('img.png')?.equals(png)).toBe(true);
    expect(decoded.attachments.get('new.gz')?.equals(Buffer.from([31, 139]))).toBe(true);
  });

  it('round-trips awkward attachment names', () => {
    const names = ['quote"and\\slash', 'tab\there', 'new\nline', '__proto__', '7', '0', 'ü☃', ''];
    const atts = names.map((name, i) => ({ name, contentType: 'application/octet-stream', data: Buffer.from([i]) }));
    const out = encodeDocumentRelated({ _id: 'x' }, atts);
    const { doc, attachments } = decodeDocumentMultipart(out.body, out.contentType);
    expect(Object.keys(doc['_attachments'] as object).sort()).toEqual([...names].sort());
    for (const att of atts) expect(attachments.get(att.name)?.equals(att.data)).toBe(true);
  });

  it('rejects duplicate attachment names', () => {
    const att = { name: 'a', contentType: 'text/plain', data: Buffer.from('a') };
    expect(() => encodeDocumentRelated({}, [att, att])).toThrow(MultipartError);
  });

  it('round-trips arbitrary documents and attachments', () => {
    const name = fc.oneof(fc.string({ maxLength: 12 }), fc.nat(20).map(String));
    const attachment = fc.record({
      contentType: fc.constantFrom('text/plain', 'image/png', 'application/octet-stream'),
      data: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      encoding: fc.option(fc.constant('gzip'), { nil: undefined }),
    });
    const key = fc.string({ maxLength: 8 }).filter((k) => k !== '_attachments');
    const doc = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 });
    fc.assert(
      fc.property(doc, fc.uniqueArray(fc.tuple(name, attachment), { selector: ([n]) => n, maxLength: 6 }), (body, list) => {
        const atts: AttachmentBody[] = list.map(([n, a]) => ({ name: n, ...a }));
        const out = encodeDocumentRelated(body, atts);
        const decoded = decodeDocumentMultipart(out.body, out.contentType);
        expect(decoded.attachments.size).toBe(atts.length);
        for (const att of atts) expect(decoded.attachments.get(att.name)?.equals(att.data)).toBe(true);
        const { _attachments: _a, ...rest } = decoded.doc;
        const { _attachments: _b, ...original } = body;
        expect(rest).toEqual(JSON.parse(JSON.stringify(original)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('encodeRevisionsMixed', () => {
  const revs = [
    { doc: { _id: 'd', _rev: '1-a', n: 1 } },
    { doc: { _id: 'd', _rev: '2-b', _attachments: { 'f.bin': { stub: true, digest: 'md5-f' } } }, attachments: [] },
    {
      doc: { _id: 'd', _rev: '3-c', _attachments: { 'f.bin': { stub: true, digest: 'md5-f' } } },
      attachments: [{ name: 'f.bin', contentType: 'application/octet-stream', data: Buffer.from('\r\n--\r\n') }],
    },
    { missing: '4-d' },
  ];

  it('writes JSON parts, nested related parts and missing markers', () => {
    const out = encodeRevisionsMixed(revs);
    expect(out.contentType).toMatch(/^multipart\/mixed; boundary="[0-9a-f]{32}"$/);
    const parts = parseMultipart(out.body, out.contentType);
    expect(parts.map((p) => p.headers['content-type'])).toEqual([
      'application/json',
      'application/json',
      expect.stringMatching(/^multipart\/related; boundary="[0-9a-f]{32}"$/),
      'application/json; error="true"',
    ]);
    expect(JSON.parse(parts[0]!.body.toString())).toEqual(revs[0]!.doc);
    expect(JSON.parse(parts[3]!.body.toString())).toEqual({ missing: '4-d' });
    const nested = parseMultipart(parts[2]!.body, parts[2]!.headers['content-type']!);
    expect(nested[1]?.headers).toEqual({
      'content-disposition': 'attachment; filename="f.bin"',
      'content-type': 'application/octet-stream',
    });
  });

  it('round-trips through decodeRevisionsMixed', () => {
    const out = encodeRevisionsMixed(revs);
    const decoded = decodeRevisionsMixed(out.body, out.contentType);
    expect(decoded).toHaveLength(4);
    expect(decoded[0]).toEqual({ doc: revs[0]!.doc, attachments: new Map() });
    expect(decoded[1]).toEqual({ doc: revs[1]!.doc, attachments: new Map() });
    expect(decoded[2]).toMatchObject({ doc: { _rev: '3-c', _attachments: { 'f.bin': { follows: true, length: 6 } } } });
    expect(asText((decoded[2] as { attachments: Map<string, Buffer> }).attachments)).toEqual({ 'f.bin': '\r\n--\r\n' });
    expect(decoded[3]).toEqual({ missing: '4-d' });
  });

  it('keeps a document with a "missing" field as a document', () => {
    const out = encodeRevisionsMixed([{ doc: { _id: 'd', missing: 'yes' } }]);
    expect(decodeRevisionsMixed(out.body, out.contentType)).toEqual([{ doc: { _id: 'd', missing: 'yes' }, attachments: new Map() }]);
  });

  it('writes an empty body for no revisions', () => {
    const out = encodeRevisionsMixed([]);
    expect(decodeRevisionsMixed(out.body, out.contentType)).toEqual([]);
    expect(() => decodeRevisionsMixed(out.body, out.contentType.replace('mixed', 'related'))).toThrow(MultipartError);
  });
});
