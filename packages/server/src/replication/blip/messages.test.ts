import { describe, expect, it } from 'vitest';
import type { ChangeEntry } from '../../db/changes.ts';
import { changeRow, parseChangesAnswer, trimHistory } from './messages.ts';
import { negotiateSubprotocol, offeredSubprotocols } from './subprotocol.ts';

const entry = (over: Partial<ChangeEntry>): ChangeEntry => ({ seq: 7, id: 'doc', changes: [{ rev: '2-b' }], ...over });

describe('changes entries', () => {
  it('encodes CBMobile_3 flags as Sync Gateway does', () => {
    expect(changeRow(entry({}), 3, false)).toEqual([7, 'doc', '2-b']);
    expect(changeRow(entry({ deleted: true }), 3, false)).toEqual([7, 'doc', '2-b', 1]);
    expect(changeRow(entry({ removed: ['a'] }), 3, false)).toBeNull();
    expect(changeRow(entry({ removed: ['a'] }), 3, true)).toEqual([7, 'doc', '2-b', 4]);
    expect(changeRow(entry({ removed: ['a'], deleted: true }), 3, false)).toEqual([7, 'doc', '2-b', 5]);
    expect(changeRow(entry({ seq: '9:7', removed: ['a'] }), 3, true)).toEqual(['9:7', 'doc', '2-b', 2]);
    expect(changeRow(entry({ seq: '9:7', removed: ['a'], deleted: true }), 3, true)).toEqual(['9:7', 'doc', '2-b', 3]);
  });

  it('encodes CBMobile_2 deletions as a boolean and skips revocations', () => {
    expect(changeRow(entry({ deleted: true }), 2, false)).toEqual([7, 'doc', '2-b', true]);
    expect(changeRow(entry({ removed: ['a'] }), 2, false)).toEqual([7, 'doc', '2-b']);
    expect(changeRow(entry({ seq: '9:7', removed: ['a'] }), 2, false)).toBeNull();
  });
});

describe('rev history', () => {
  it('stops at the first known ancestor or at maxHistory', () => {
    expect(trimHistory(['3-c', '2-b', '1-a'], new Set(['2-b']), 0)).toEqual(['3-c', '2-b']);
    expect(trimHistory(['3-c', '2-b', '1-a'], new Set(), 2)).toEqual(['3-c', '2-b']);
    expect(trimHistory(['3-c', '2-b', '1-a'], new Set(), 0)).toEqual(['3-c', '2-b', '1-a']);
  });

  it('reads the answer to a changes message', () => {
    expect(parseChangesAnswer([[], 0, ['1-a']])).toEqual([[], null, ['1-a']]);
    expect(parseChangesAnswer(undefined)).toEqual([]);
    expect(parseChangesAnswer({})).toBeUndefined();
    expect(parseChangesAnswer([[1]])).toBeUndefined();
  });
});

describe('subprotocols', () => {
  it('picks the newest supported one offered', () => {
    expect(negotiateSubprotocol(offeredSubprotocols('BLIP_3+CBMobile_2, BLIP_3+CBMobile_3'))?.version).toBe(3);
    expect(negotiateSubprotocol(offeredSubprotocols(['BLIP_3+CBMobile_4', 'BLIP_3+CBMobile_2']))?.name).toBe('BLIP_3+CBMobile_2');
    expect(negotiateSubprotocol(offeredSubprotocols('BLIP_3+CBMobile_1'))).toBeUndefined();
    expect(negotiateSubprotocol(offeredSubprotocols(undefined))).toBeUndefined();
  });
});
