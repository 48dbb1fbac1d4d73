import { describe, expect, it } from 'vitest';
import { memoryDatabase } from '../../../test/support/memory-db.ts';
import { loadUserAccess } from './user-access.ts';

/** User and role writes take gateway sequences and wake change feeds, so feeds notice access changes. */
describe('principal writes in a database', () => {
  it('stamps config principals with sequences and announces them', async () => {
    await using db = await memoryDatabase({
      roles: { staff: { admin_channels: ['s'] } },
      users: { ann: { password: 'annpass', admin_channels: ['a'], admin_roles: ['staff'] } },
    });
    const last = await db.bucket.lastSequence();
    expect(last).toBe(2);
    expect(db.notifier.latest).toBe(last);
    const access = await loadUserAccess(db, 'ann');
    expect(Object.fromEntries(access!.channels)).toEqual({ '!': 0, a: 2, s: 2 });
  });

  it('wakes a waiting feed when a user gains a channel or a role is deleted', async () => {
    await using db = await memoryDatabase({ users: { ann: { password: 'annpass' } } });
    let since = db.notifier.latest;
    const woken = db.notifier.waitFor(since, 10_000);
    await db.auth.putUser('ann', { admin_channels: ['new'] });
    expect(await woken).toBe(true);
    expect(db.notifier.latest).toBe(await db.bucket.lastSequence());

    await db.auth.putRole('staff', { admin_channels: ['s'] });
    since = db.notifier.latest;
    const again = db.notifier.waitFor(since, 10_000);
    await db.auth.deleteRole('staff');
    expect(await again).toBe(true);
    expect(db.notifier.latest).toBe(since + 1);
  });
});
