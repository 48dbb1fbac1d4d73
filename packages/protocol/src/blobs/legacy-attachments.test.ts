import { describe, expect, it } from 'vitest';
import {
  addMissingLegacyAttachments,
  findInlineBlobs,
  legacyAttachmentName,
  revGeneration,
  stripLegacyAttachments,
  valueAtLegacyName,
  withLegacyAttachments,
} from './legacy-attachments.ts';

const blob = (digest: string, extra: Record<string, unknown> = {}) => ({ '@type': 'blob', digest, length: 5, content_type: 'text/plain', ...extra });

describe('legacy attachments', () => {
  it('names shadows by the JSON pointer of the blob, array indices included', () => {
    expect(legacyAttachmentName(['photo'])).toBe('blob_/photo');
    expect(legacyAttachmentName(['a', 0, 'b'])).toBe('blob_/a/0/b');
    expect(legacyAttachmentName(['a/b', 'c~d'])).toBe('blob_/a~1b/c~0d');
  });

  it('finds blobs in nested objects and arrays but not under the root _attachments', () => {
    const body = {
      photo: blob('sha1-p'),
      list: [1, { deep: blob('sha1-d') }, blob('sha1-l')],
      nested: { inner: { thumb: blob('sha1-t') } },
      notABlob: { '@type': 'blob' },
      _attachments: { 'x.txt': blob('sha1-x'), nested: { inner: blob('sha1-y') } },
    };
    expect(findInlineBlobs(body).map((b) => [b.path, b.blob.digest])).toEqual([
      [['photo'], 'sha1-p'],
      [['list', 1, 'deep'], 'sha1-d'],
      [['list', 2], 'sha1-l'],
      [['nested', 'inner', 'thumb'], 'sha1-t'],
    ]);
  });

  it('adds a stub shadow per inline blob with revpos = generation, keeping other attachments and the input', () => {
    const body = {
      photo: blob('sha1-p'),
      list: [blob('sha1-l', { length: 9 })],
      _attachments: { 'old.txt': { stub: true, digest: 'sha1-o', length: 1, revpos: 1 } },
    };
    const before = structuredClone(body);
    const sent = withLegacyAttachments(body, 3);
    expect(sent._attachments).toEqual({
      'old.txt': { stub: true, digest: 'sha1-o', length: 1, revpos: 1 },
      'blob_/photo': { stub: true, digest: 'sha1-p', length: 5, content_type: 'text/plain', revpos: 3 },
      'blob_/list/0': { stub: true, digest: 'sha1-l', length: 9, content_type: 'text/plain', revpos: 3 },
    });
    expect(sent.photo).toEqual(body.photo);
    expect(body).toEqual(before);
    const plain = { n: 1 };
    expect(withLegacyAttachments(plain, 1)).toBe(plain);
  });

  it('resolves shadow names to body values', () => {
    const body = { a: [{ b: blob('sha1-1') }], 'k/x': blob('sha1-2'), _attachments: { q: blob('sha1-3') } };
    expect(valueAtLegacyName(body, 'blob_/a/0/b')).toEqual(body.a[0]!.b);
    expect(valueAtLegacyName(body, 'blob_/k~1x')).toEqual(body['k/x']);
    expect(valueAtLegacyName(body, 'blob_/a/1/b')).toBeUndefined();
    expect(valueAtLegacyName(body, 'blob_/a/x')).toBeUndefined();
    expect(valueAtLegacyName(body, 'blob_/_attachments/q')).toBeUndefined();
    expect(valueAtLegacyName(body, 'photo')).toBeUndefined();
  });

  it('strips shadows of inline blobs only, and drops _attachments when it empties', () => {
    const shadow = { stub: true, digest: 'sha1-p', length: 5, revpos: 2 };
    const mixed = {
      photo: blob('sha1-p'),
      list: [blob('sha1-l')],
      _attachments: { 'blob_/photo': shadow, 'blob_/list/0': shadow, 'blob_/gone': shadow, 'pouch.png': shadow },
    };
    expect(stripLegacyAttachments(mixed)).toEqual({
      photo: mixed.photo,
      list: mixed.list,
      _attachments: { 'blob_/gone': shadow, 'pouch.png': shadow },
    });
    expect(stripLegacyAttachments({ photo: blob('sha1-p'), _attachments: { 'blob_/photo': shadow } })).toEqual({ photo: blob('sha1-p') });
    const untouched = { _attachments: { 'a.txt': shadow } };
    expect(stripLegacyAttachments(untouched)).toBe(untouched);
  });

  it('round-trips: stripping what was added gives the original body', () => {
    const body = { photo: blob('sha1-p'), list: [{ x: blob('sha1-l') }], _attachments: { 'a.txt': { stub: true, digest: 'sha1-a' } } };
    expect(stripLegacyAttachments(withLegacyAttachments(body, 4))).toEqual(body);
  });

  it('reads the generation of a revision ID', () => {
    expect(revGeneration('12-abc')).toBe(12);
    expect(revGeneration('x')).toBe(0);
  });
  it('adds only the missing shadows, revpos = generation, and keeps what the client sent', () => {
    const sentShadow = { stub: true, digest: 'sha1-p', length: 4, content_type: 'text/plain', revpos: 1 };
    const body = {
      photo: blob('sha1-p'),
      list: [blob('sha1-l', { content_type: undefined })],
      _attachments: { 'blob_/photo': sentShadow, 'other.bin': { stub: true, digest: 'sha1-o' } },
    };
    const before = structuredClone(body);
    expect(addMissingLegacyAttachments(body, 3)._attachments).toEqual({
      'blob_/photo': sentShadow,
      'other.bin': { stub: true, digest: 'sha1-o' },
      'blob_/list/0': { stub: true, digest: 'sha1-l', length: 5, content_type: 'application/octet-stream', revpos: 3 },
    });
    expect(body).toEqual(before);
    const plain = { n: 1, _attachments: { 'a.txt': blob('sha1-a') } };
    expect(addMissingLegacyAttachments(plain, 2)).toBe(plain);
    const shadowed = { photo: blob('sha1-p'), _attachments: { 'blob_/photo': { stub: true, digest: 'sha1-p' } } };
    expect(addMissingLegacyAttachments(shadowed, 2)).toBe(shadowed);
  });
});
