import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readChangesBatch, type ChangeEntry } from '../src/db/changes.ts';
import type { Database } from '../src/db/database.ts';
import { formatPosition, parsePosition, plain, type FeedPosition } from '../src/db/feed-position.ts';
import { save } from '../src/storage/contract-support.ts';
import type { Grant } from '../src/storage/bucket.ts';
import { memoryDatabase } from './support/memory-db.ts';

let db: Database;
let revCounter = 0;

beforeEach(async () => {
  db = await memoryDatabase();
});
afterEach(async () => {
  await db.close();
});

async function put(id: string, channels: string[], extra: { removed?: string[]; grants?: Grant[]; deleted?: boolean } = {}): Promise<number> {
  const result = await save(db.collection, id, { rev: `${++revCounter}-x`, channels, ...extra, ...(extra.deleted ? { body: null } : {}) });
  db.notifier.announce(result.seq);
  return result.seq;
}

async function feed(user: string, since: FeedPosition | number = 0, opts: { limit?: number; channels?: string[] } = {}) {
  const position = typeof since === 'number' ? plain(since) : since;
  return readChangesBatch(db, { since: position, ...opts }, user);
}

const ids = (entries: ChangeEntry[]): string[] => entries.map((e) => e.id);

async function makeUser(name: string, channels: string[]): Promise<void> {
  await db.auth.putUser(name, { password: 'secret', admin_channels: channels });
  db.notifier.announce(await db.bucket.lastSequence());
}

describe("a user's changes feed", () => {
  it('lists only documents in the user channels, plus the public channel', async () => {
    await makeUser('alice', ['a']);
    await put('in-a', ['a']);
    await put('in-b', ['b']);
    await put('in-both', ['a', 'b']);
    await put('public', ['!']);
    await put('nowhere', []);
    const page = await feed('alice');
    expect(ids(page.results).sort()).toEqual(['in-a', 'in-both', 'public']);
    expect(page.last).toEqual(plain(await db.bucket.lastSequence()));
    expect(ids((await feed('alice', 0, { channels: ['a'] })).results)).toEqual(['in-a', 'in-both']);
    // bychannel never widens access: b is not alice's.
    expect((await feed('alice', 0, { channels: ['b'] })).results).toEqual([]);
  });

  it('a user with the star channel sees every document; an unknown or disabled user sees none', async () => {
    await makeUser('root', ['*']);
    await put('x', ['a']);
    await put('y', []);
    expect(ids((await feed('root')).results)).toEqual(['x', 'y']);
    expect((await feed('nobody')).results).toEqual([]);
    await db.auth.putUser('root', { disabled: true });
    expect((await feed('root')).results).toEqual([]);
  });

  it('backfills a channel granted later, before the grant, even to a client past those sequences', async () => {
    await makeUser('alice', ['a']);
    await put('b1', ['b']);
    await put('a1', ['a']);
    await put('b2', ['b']);
    const first = await feed('alice');
    expect(ids(first.results)).toEqual(['a1']);
    const grantSeq = await put('grant', [], { grants: [{ grantee: 'alice', kind: 'channel', item: 'b' }] });
    await put('b3', ['b']);
    const second = await feed('alice', first.last);
    expect(ids(second.results)).toEqual(['b1', 'b2', 'b3']);
    const [b1, b2] = await Promise.all(['b1', 'b2'].map(async (id) => JSON.parse((await db.collection.get(id))!.meta!).seq as number));
    expect(second.results.map((e) => e.seq)).toEqual([`${grantSeq}:${b1}`, `${grantSeq}:${b2}`, grantSeq + 1]);
    // Nothing new after that.
    expect((await feed('alice', second.last)).results).toEqual([]);
  });

  it('resumes a backfill from a compound sequence, one entry at a time, without gaps or repeats', async () => {
    await makeUser('alice', ['a']);
    for (let i = 0; i < 5; i++) await put(`b${i}`, ['b']);
    await put('a0', ['a']);
    const start = (await feed('alice')).last;
    await put('grant', [], { grants: [{ grantee: 'alice', kind: 'channel', item: 'b' }] });
    await put('a1', ['a']);
    await put('b5', ['b']);
    const all = await feed('alice', start);
    const stepped: ChangeEntry[] = [];
    let since = start;
    for (let i = 0; i < 20; i++) {
      const page = await feed('alice', since, { limit: 1 });
      if (page.results.length === 0) break;
      stepped.push(...page.results);
      since = parsePosition(String(formatPosition(page.last)));
    }
    expect(ids(all.results)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4', 'a1', 'b5']);
    expect(stepped).toEqual(all.results);
  });

  it('reports a document that left a channel the user reads as removed', async () => {
    await makeUser('alice', ['a']);
    await put('doc', ['a']);
    const start = (await feed('alice')).last;
    await put('doc', ['b'], { removed: ['a'] });
    const page = await feed('alice', start);
    expect(page.results).toEqual([expect.objectContaining({ id: 'doc', removed: ['a'] })]);
    // A client starting from scratch has nothing to purge.
    expect((await feed('alice')).results).toEqual([]);
  });

  it('reports the documents of a revoked channel as removed, placed at the revocation', async () => {
    await makeUser('alice', []);
    const grantSeq = await put('grant', [], { grants: [{ grantee: 'alice', kind: 'channel', item: 'b' }] });
    await put('b1', ['b']);
    await put('b2', ['b']);
    const synced = await feed('alice');
    expect(ids(synced.results)).toEqual(['b1', 'b2']);
    const revokeSeq = await put('grant', [], { grants: [] });
    const page = await feed('alice', synced.last);
    expect(page.results.map((e) => [e.id, e.removed])).toEqual([
      ['b1', ['b']],
      ['b2', ['b']],
    ]);
    expect(String(page.results[0]!.seq)).toMatch(new RegExp(`^${revokeSeq}:`));
    expect(grantSeq).toBeLessThan(revokeSeq);
    // A client that never had the channel is told nothing.
    expect((await feed('alice', 0)).results).toEqual([]);
  });

  it('backfills channels granted through an admin update of the user or of a role', async () => {
    await makeUser('alice', []);
    await put('c1', ['c']);
    await put('r1', ['r']);
    const start = (await feed('alice')).last;
    await db.auth.putUser('alice', { admin_channels: ['c'] });
    db.notifier.announce(await db.bucket.lastSequence());
    expect(ids((await feed('alice', start)).results)).toEqual(['c1']);
    const afterUser = (await feed('alice', start)).last;
    await db.auth.putRole('staff', { admin_channels: ['r'] });
    await db.auth.putUser('alice', { admin_roles: ['staff'] });
    db.notifier.announce(await db.bucket.lastSequence());
    expect(ids((await feed('alice', afterUser)).results)).toEqual(['r1']);
  });
});
