import { STAR_CHANNEL } from '../channels/index.ts';
import type { ChangeRecord } from '../storage/bucket.ts';
import { lostChannels, type UserAccess } from './access/user-access.ts';
import type { DbContext } from './context.ts';
import { comparePositions, FINAL, plain, type FeedPosition } from './feed-position.ts';

/** One document a user's feed reports: readable (`doc`) or to be purged by the client (`removed`). */
export interface FeedItem {
  position: FeedPosition;
  record: ChangeRecord;
  kind: 'doc' | 'removed';
  /** For removals: the channels through which the user had the document. */
  removedFrom: string[];
}

export interface UserFeedQuery {
  since: FeedPosition;
  /** Highest committed sequence when the access was loaded: nothing beyond it is reported. */
  upTo: number;
  limit: number;
  /** `filter=sync_gateway/bychannel`: only these channels (intersected with the user's). */
  channels?: readonly string[];
  docIds?: readonly string[];
  /** Read each record's sync metadata along (ChangesQuery.withMeta). */
  withMeta?: boolean;
}

export interface UserFeedPage {
  items: FeedItem[];
  /** Where the next request resumes: after the last item when the limit cut the page, else `upTo`. */
  last: FeedPosition;
}

const PAGE = 500;

/** The user's view restricted to the requested channels: channel → since, with `*` standing for all. */
interface View {
  channels: Map<string, number>;
  /** Set when every document is readable (the `*` channel): the sequence since which. */
  all: number | undefined;
  /** Channels lost since the client's position → sequence of the loss. */
  lost: Map<string, number>;
  /** Set when the user lost `*`. */
  lostAll: number | undefined;
}

function viewOf(access: UserAccess, since: FeedPosition, filter: readonly string[] | undefined): View {
  const star = access.channels.get(STAR_CHANNEL);
  // Mid-way through a trigger's block the client is still in the state before that trigger.
  const lostMap = lostChannels(access, since.seq === FINAL ? since.trigger : since.trigger - 1);
  const lostStar = lostMap.get(STAR_CHANNEL);
  lostMap.delete(STAR_CHANNEL);
  if (!filter) {
    const channels = new Map(access.channels);
    channels.delete(STAR_CHANNEL);
    return { channels, all: star, lost: lostMap, lostAll: lostStar };
  }
  const channels = new Map<string, number>();
  const lost = new Map<string, number>();
  for (const c of filter) {
    const direct = access.channels.get(c);
    const since = Math.min(direct ?? Infinity, star ?? Infinity);
    if (since !== Infinity) channels.set(c, since);
    const loss = lostMap.get(c) ?? (direct === undefined && star === undefined ? lostStar : undefined);
    if (loss !== undefined && !channels.has(c)) lost.set(c, loss);
  }
  return { channels, all: undefined, lost, lostAll: undefined };
}

const min = (a: FeedPosition | null, b: FeedPosition): FeedPosition => (a === null || comparePositions(b, a) < 0 ? b : a);

/** Where a document lands in the feed, and whether as a readable document or as a removal. */
function place(record: ChangeRecord, view: View, since: FeedPosition): FeedItem | null {
  const s = record.seq;
  const at = (grantedAt: number): FeedPosition => (s >= grantedAt ? plain(s) : { trigger: grantedAt, seq: s });
  let best: FeedPosition | null = view.all !== undefined ? at(view.all) : null;
  for (const c of record.channels) {
    const grantedAt = view.channels.get(c);
    if (grantedAt !== undefined) best = min(best, at(grantedAt));
  }
  if (best) return { position: best, record, kind: 'doc', removedFrom: [] };

  // Not readable now. A client starting from scratch has nothing to purge.
  if (since.trigger === 0 && since.seq === FINAL) return null;
  // Each reason to purge has its own position; one the client has already passed must not hide a newer one.
  let removal: FeedPosition | null = null;
  const from: string[] = [];
  const consider = (c: string, position: FeedPosition): void => {
    if (comparePositions(position, since) <= 0) return;
    removal = min(removal, position);
    from.push(c);
  };
  for (const c of record.removed) {
    const grantedAt = view.channels.get(c);
    if (grantedAt !== undefined && s >= grantedAt) consider(c, plain(s));
  }
  const revoked = (c: string, lostAt: number): void => consider(c, s < lostAt ? { trigger: lostAt, seq: s } : plain(s));
  // Channels the user lost, whether the document is still in them or left them too.
  for (const c of [...record.channels, ...record.removed]) {
    const lostAt = view.lost.get(c) ?? view.lostAll;
    if (lostAt !== undefined) revoked(c, lostAt);
  }
  if (record.channels.length === 0 && view.lostAll !== undefined) revoked(STAR_CHANNEL, view.lostAll);
  return removal ? { position: removal, record, kind: 'removed', removedFrom: from } : null;
}

/**
 * One page of a user's changes feed: documents in the user's channels after `since`, documents of newly
 * granted channels however old (backfill, placed at the grant's sequence), and removals (documents that left
 * a channel the user reads, or that are in channels the user lost since `since`), in position order.
 */
export async function readUserFeed(ctx: DbContext, access: UserAccess, q: UserFeedQuery): Promise<UserFeedPage> {
  const view = viewOf(access, q.since, q.channels);
  const upper = plain(q.upTo);
  const items: FeedItem[] = [];
  const full = (): boolean => items.length >= q.limit;
  const wanted = (item: FeedItem | null): item is FeedItem =>
    item !== null && comparePositions(item.position, q.since) > 0 && comparePositions(item.position, upper) <= 0;

  const everything = view.all !== undefined || view.lostAll !== undefined;
  const queryChannels = everything ? undefined : [...new Set([...view.channels.keys(), ...view.lost.keys()])];
  if (queryChannels?.length === 0) return { items, last: upper };

  // Blocks of backfill/revocation entries, one per trigger sequence, between the plain entries.
  const triggers = new Map<number, Set<string>>();
  const addTrigger = (t: number, c: string): void => {
    const sinceTrigger = q.since.seq === FINAL ? t > q.since.trigger : t >= q.since.trigger;
    if (!sinceTrigger || t > q.upTo) return;
    const set = triggers.get(t) ?? new Set<string>();
    set.add(c);
    triggers.set(t, set);
  };
  for (const [c, t] of view.channels) addTrigger(t, c);
  for (const [c, t] of view.lost) addTrigger(t, c);
  if (view.all !== undefined) addTrigger(view.all, STAR_CHANNEL);
  if (view.lostAll !== undefined) addTrigger(view.lostAll, STAR_CHANNEL);

  const scan = async (channels: readonly string[] | undefined, from: number, below: number, keep: (item: FeedItem) => boolean): Promise<void> => {
    let cursor = from;
    while (!full()) {
      const records = await ctx.collection.readChanges({
        since: cursor,
        limit: PAGE,
        ...(channels ? { channels } : {}),
        ...(q.docIds ? { docIds: q.docIds } : {}),
        ...(q.withMeta ? { withMeta: true } : {}),
      });
      for (const record of records) {
        if (record.seq >= below) return;
        const item = place(record, view, q.since);
        if (wanted(item) && keep(item)) items.push(item);
        if (full()) return;
      }
      if (records.length < PAGE) return;
      cursor = records[records.length - 1]!.seq;
    }
  };
  const isPlain = (item: FeedItem): boolean => item.position.seq === FINAL;

  // Plain entries resume after the client's trigger; a compound position has not yet passed plain T itself.
  let plainFrom = q.since.seq === FINAL ? q.since.trigger : q.since.trigger - 1;
  for (const t of [...triggers.keys()].sort((a, b) => a - b)) {
    await scan(queryChannels, plainFrom, t, isPlain);
    if (full()) break;
    const channels = [...triggers.get(t)!];
    const blockChannels = channels.includes(STAR_CHANNEL) ? undefined : channels;
    const start = t === q.since.trigger && q.since.seq !== FINAL ? q.since.seq : 0;
    await scan(blockChannels, start, t, (item) => item.position.trigger === t && !isPlain(item));
    if (full()) break;
    plainFrom = Math.max(plainFrom, t - 1);
  }
  if (!full()) await scan(queryChannels, plainFrom, q.upTo + 1, isPlain);
  const last = full() ? items[items.length - 1]!.position : upper;
  return { items, last };
}
