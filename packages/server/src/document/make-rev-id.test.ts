import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeRevId, makeRevIdFromJson } from './make-rev-id.ts';

const parent = '3-967a00dff5e02add41819138abb3284d';

describe('makeRevId', () => {
  it('numbers the generation after the parent', () => {
    expect(makeRevId({ parent: null, deleted: false, body: { a: 1 } })).toMatch(/^1-[0-9a-f]{32}$/);
    expect(makeRevId({ parent, deleted: false, body: { a: 1 } })).toMatch(/^4-[0-9a-f]{32}$/);
  });

  it('is deterministic and sensitive to parent, deletion and content', () => {
    const base = { parent, deleted: false, body: { a: 1, b: [1, 2] } };
    const id = makeRevId(base);
    expect(makeRevId({ ...base, body: { b: [1, 2], a: 1 } })).toBe(id);
    const variants = [
      makeRevId({ ...base, parent: '3-967a00dff5e02add41819138abb3284e' }),
      makeRevId({ ...base, parent: null }),
      makeRevId({ ...base, deleted: true }),
      makeRevId({ ...base, body: { a: 2, b: [1, 2] } }),
      makeRevId({ ...base, body: { a: 1, b: [2, 1] } }),
      makeRevId({ ...base, body: { a: 1 } }),
    ];
    expect(new Set([id, ...variants.map((v) => v.slice(2))]).size).toBe(variants.length + 1);
  });

  it('ignores special fields except attachments', () => {
    const body = { a: 1 };
    const id = makeRevId({ parent, deleted: false, body });
    const withSpecials = { ...body, _id: 'doc', _rev: parent, _revisions: { start: 3, ids: [] }, _deleted: false };
    expect(makeRevId({ parent, deleted: false, body: withSpecials })).toBe(id);
    const withAttachment = { ...body, _attachments: { 'a.txt': { digest: 'md5-x', stub: true } } };
    expect(makeRevId({ parent, deleted: false, body: withAttachment })).not.toBe(id);
  });

  it('hashes an attachment by name and digest only, stub or inline', () => {
    const data = Buffer.from('hello').toString('base64');
    const digest = `md5-${createHash('md5').update('hello').digest('base64')}`;
    const forms = [
      { digest, stub: true, revpos: 2, length: 5, content_type: 'text/plain' },
      { digest, data, content_type: 'text/plain' },
      { data },
    ];
    const ids = forms.map((att) => makeRevId({ parent, deleted: false, body: { _attachments: { 'a.txt': att } } }));
    expect(new Set(ids).size).toBe(1);
    const renamed = makeRevId({ parent, deleted: false, body: { _attachments: { 'b.txt': { digest } } } });
    const changed = makeRevId({ parent, deleted: false, body: { _attachments: { 'a.txt': { digest: 'md5-other' } } } });
    expect(renamed).not.toBe(ids[0]);
    expect(changed).not.toBe(ids[0]);
  });

  it('rejects an invalid parent or a generation overflow', () => {
    expect(() => makeRevId({ parent: 'nope', deleted: false, body: {} })).toThrowError(
      expect.objectContaining({ status: 400 }),
    );
    expect(() => makeRevId({ parent: '2147483647-a', deleted: false, body: {} })).toThrowError(
      expect.objectContaining({ status: 400 }),
    );
  });

  it('does not depend on key order', () => {
    const body = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 });
    fc.assert(
      fc.property(body, fc.boolean(), (value, deleted) => {
        const reordered = Object.fromEntries(Object.entries(value).reverse());
        const id = makeRevId({ parent, deleted, body: value });
        expect(makeRevId({ parent, deleted, body: reordered })).toBe(id);
        expect(makeRevId({ parent, deleted, body: structuredClone(value) })).toBe(id);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same ID from the body JSON text', () => {
    const key = fc.string().filter((k) => !k.startsWith('_'));
    const body = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 });
    fc.assert(
      fc.property(body, fc.boolean(), fc.option(fc.constant(parent)), (value, deleted, from) => {
        const opts = { parent: from, deleted, body: value };
        expect(makeRevIdFromJson(opts, JSON.stringify(value))).toBe(makeRevId(opts));
      }),
      { numRuns: 300 },
    );
  });
});
