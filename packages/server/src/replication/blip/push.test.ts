import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CurrentDoc } from '../../db/crud/current.ts';
import type { SyncMeta } from '../../db/doc-meta.ts';
import { encodeStatuses, proposedStatus, proveAttachment } from './push.ts';

const docWith = (rev: string, deleted = false): CurrentDoc => ({
  id: 'd',
  stored: null,
  meta: { rev, deleted, tree: { [rev]: { parent: null, deleted } } } as unknown as SyncMeta,
});

describe('push helpers', () => {
  it('omits trailing zeros but keeps zeros before a non-zero status', () => {
    expect(encodeStatuses([])).toBe('[]');
    expect(encodeStatuses([0, 0])).toBe('[]');
    expect(encodeStatuses([0, 304, 0, 409, 0])).toBe('[0,304,0,409]');
  });

  it('follows CheckProposedRev', () => {
    expect(proposedStatus({ id: 'd', stored: null, meta: null }, '1-a', '')).toBe(0);
    expect(proposedStatus(docWith('1-a'), '1-a', '')).toBe(304);
    expect(proposedStatus(docWith('1-a'), '2-b', '1-a')).toBe(0);
    expect(proposedStatus(docWith('1-a'), '2-b', '1-x')).toBe(409);
    expect(proposedStatus(docWith('1-a'), '1-b', '')).toBe(409);
    expect(proposedStatus(docWith('1-a', true), '1-b', '')).toBe(0);
  });

  it('proves an attachment over the nonce length, nonce and data', () => {
    const nonce = Buffer.from('0123456789abcdefghij');
    const data = Buffer.from('bytes');
    const expected = `sha1-${createHash('sha1').update(Buffer.concat([Buffer.of(20), nonce, data])).digest('base64')}`;
    expect(proveAttachment(data, nonce)).toBe(expected);
  });
});
