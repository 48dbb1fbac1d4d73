import { describe, expect, it } from 'vitest';
import type { Grant } from './bucket.ts';
import { save, type ContractEnv } from './contract-support.ts';

const toAlice = (item: string, kind: Grant['kind'] = 'channel'): Grant => ({ grantee: 'alice', kind, item });

export function grantsContract(env: ContractEnv): void {
  describe('access grants', () => {
    it('records grants with the sequence of the commit that made them', async () => {
      const first = await save(env.coll, 'g', { grants: [toAlice('a'), toAlice('editors', 'role'), { grantee: 'role:editors', kind: 'channel', item: 'drafts' }] });
      expect(await env.coll.readGrants(['alice'])).toEqual([
        { grantee: 'alice', kind: 'channel', item: 'a', docId: 'g', seq: first.seq, revokedSeq: null },
        { grantee: 'alice', kind: 'role', item: 'editors', docId: 'g', seq: first.seq, revokedSeq: null },
      ]);
      expect(await env.coll.readGrants(['role:editors', 'bob'])).toEqual([
        { grantee: 'role:editors', kind: 'channel', item: 'drafts', docId: 'g', seq: first.seq, revokedSeq: null },
      ]);
    });

    it('keeps standing grants at their first sequence, revokes dropped ones and restarts regranted ones', async () => {
      const first = await save(env.coll, 'g', { grants: [toAlice('a'), toAlice('b')] });
      const second = await save(env.coll, 'g', { rev: '2-b', grants: [toAlice('a')] });
      expect(await env.coll.readGrants(['alice'])).toEqual([
        { grantee: 'alice', kind: 'channel', item: 'a', docId: 'g', seq: first.seq, revokedSeq: null },
        { grantee: 'alice', kind: 'channel', item: 'b', docId: 'g', seq: first.seq, revokedSeq: second.seq },
      ]);
      const third = await save(env.coll, 'g', { rev: '3-c' });
      expect((await env.coll.readGrants(['alice'])).map((g) => g.revokedSeq)).toEqual([null, second.seq]);
      const fourth = await save(env.coll, 'g', { rev: '4-d', grants: [toAlice('b')] });
      expect(await env.coll.readGrants(['alice'])).toEqual([
        { grantee: 'alice', kind: 'channel', item: 'a', docId: 'g', seq: first.seq, revokedSeq: fourth.seq },
        { grantee: 'alice', kind: 'channel', item: 'b', docId: 'g', seq: fourth.seq, revokedSeq: null },
      ]);
      expect(third.seq).toBeLessThan(fourth.seq);
    });

    it('keeps grants of different documents apart and drops a purged document grants', async () => {
      await save(env.coll, 'g1', { grants: [toAlice('a')] });
      await save(env.coll, 'g2', { grants: [toAlice('a')] });
      expect((await env.coll.readGrants(['alice'])).map((g) => g.docId)).toEqual(['g1', 'g2']);
      await env.coll.purge('g1');
      expect((await env.coll.readGrants(['alice'])).map((g) => g.docId)).toEqual(['g2']);
    });
  });
}
