import type { IncomingMessage } from '@syncline/protocol';
import { badRequest } from '../../base/errors.ts';
import type { ChangeEntry } from '../../db/changes.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import { parsePosition, plain, type FeedPosition } from '../../db/feed-position.ts';
import type { CBMobileVersion } from './subprotocol.ts';

/**
 * Typed shapes of the replication messages the server side handles, after Sync Gateway's
 * `db/blip_sync_messages.go` and LiteCore's `replication-protocol.adoc`. Decoded input is validated here;
 * anything malformed is a 400 for that request only.
 */

export const BY_CHANNEL_FILTER = 'sync_gateway/bychannel';
export const DEFAULT_BATCH = 200;
/** Sync Gateway's BlipMinimumBatchSize: smaller requested batches are raised to it. */
export const MIN_BATCH = 10;
const MAX_BATCH = 10_000;

export interface SubChangesParams {
  since: FeedPosition;
  continuous: boolean;
  batch: number;
  activeOnly: boolean;
  /** `filter=sync_gateway/bychannel`: the requested channels. */
  channels: string[] | undefined;
  docIds: string[] | undefined;
  /** CBMobile_3: the client wants revocation/removal entries. */
  revocations: boolean;
}

const isTrue = (value: string | undefined): boolean => value !== undefined && value !== 'false' && value !== '0' && value !== '';

export function parseSubChanges(rq: IncomingMessage): SubChangesParams {
  const props = rq.properties;
  const sinceText = props.since;
  const since = sinceText === undefined || sinceText === '' || sinceText === 'null' ? plain(0) : parsePositionOr400(sinceText);
  let batch = DEFAULT_BATCH;
  if (props.batch !== undefined) {
    if (!/^\d+$/.test(props.batch)) throw badRequest('Invalid subChanges parameters');
    batch = Math.min(MAX_BATCH, Math.max(MIN_BATCH, Number(props.batch)));
  }
  const continuous = isTrue(props.continuous);
  const activeOnly = isTrue(props.activeOnly ?? props.active_only);
  const revocations = isTrue(props.revocations);
  let channels: string[] | undefined;
  const filter = props.filter;
  if (filter === BY_CHANNEL_FILTER) {
    if (props.channels === undefined) throw badRequest("Missing 'channels' filter parameter");
    channels = [...new Set(props.channels.split(',').map((c) => c.trim()).filter((c) => c !== ''))];
    if (channels.length === 0) throw badRequest('Empty channel list');
  } else if (filter !== undefined && filter !== '') {
    throw badRequest('Unknown filter; try sync_gateway/bychannel');
  }
  let docIds: string[] | undefined;
  if (rq.body.length > 0) {
    let body: unknown;
    try {
      body = rq.bodyJSON();
    } catch {
      throw badRequest('Invalid JSON body');
    }
    if (body !== null && body !== undefined) {
      if (!isPlainObject(body)) throw badRequest('subChanges body must be a JSON object');
      const ids = body.docIDs;
      if (ids !== undefined && ids !== null) {
        if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw badRequest('docIDs must be an array of strings');
        if (ids.length > 0) docIds = ids;
      }
    }
  }
  if (docIds !== undefined && continuous) throw badRequest('DocIDs filter not supported for continuous subChanges');
  return { since, continuous, batch, activeOnly, channels, docIds, revocations };
}

function parsePositionOr400(text: string): FeedPosition {
  try {
    return parsePosition(text);
  } catch {
    throw badRequest('Invalid subChanges parameters');
  }
}

/** Bits of the fourth element of a CBMobile_3 `changes` entry (Sync Gateway's changesDeletedFlag). */
export const ChangeFlag = { deleted: 0b001, revoked: 0b010, removed: 0b100 } as const;

/** One `changes` entry: `[sequence, docID, revID]` plus the deletion flags when set. */
export type ChangeRow = [number | string, string, string] | [number | string, string, string, number | boolean];

/**
 * Encodes a feed entry as Sync Gateway does, or null when it is not sent. A removal entry (the document
 * left the user's channels, or the user lost access) is, for CBMobile_3, flagged `revoked` when it comes from
 * an access change (a compound "T:S" position) and `removed` when the document left a channel, and only
 * when the client asked for revocations (a deleted document that left its channels is always sent, flagged
 * deleted|removed, as Sync Gateway does); CBMobile_2 clients get plain removals as ordinary entries and are
 * then sent a `{"_removed":true}` revision, and nothing for revoked access.
 */
export function changeRow(entry: ChangeEntry, version: CBMobileVersion, revocations: boolean): ChangeRow | null {
  const rev = entry.changes[0]?.rev;
  if (rev === undefined) return null;
  const deleted = entry.deleted === true;
  const isRemoval = entry.removed !== undefined;
  const revoked = isRemoval && typeof entry.seq === 'string';
  if (version >= 3) {
    // A tombstone that left the channels is still sent (flags deleted|removed, which LiteCore treats as a
    // deletion); other removals only to clients that asked for revocations.
    if (isRemoval && !revocations && !(deleted && !revoked)) return null;
    let flags = deleted ? ChangeFlag.deleted : 0;
    if (isRemoval) flags |= revoked ? ChangeFlag.revoked : ChangeFlag.removed;
    return flags === 0 ? [entry.seq, entry.id, rev] : [entry.seq, entry.id, rev, flags];
  }
  if (revoked) return null;
  return deleted ? [entry.seq, entry.id, rev, true] : [entry.seq, entry.id, rev];
}

/**
 * Ancestors to send in a `rev`'s `history`, newest first: up to and including the first one the client
 * knows, at most `maxHistory` (0: no limit). Revisions listed are added to `known` (Sync Gateway's toHistory).
 */
export function trimHistory(ancestors: readonly string[], known: Set<string>, maxHistory: number): string[] {
  const out: string[] = [];
  for (const rev of ancestors) {
    out.push(rev);
    if (known.has(rev) || (maxHistory > 0 && out.length >= maxHistory)) break;
    known.add(rev);
  }
  return out;
}

/** The client's answer to a `changes` message: per entry, the ancestor revisions it has, or null if it does not want it. */
export function parseChangesAnswer(body: unknown): (string[] | null)[] | undefined {
  if (body === undefined || body === null) return [];
  if (!Array.isArray(body)) return undefined;
  const out: (string[] | null)[] = [];
  for (const item of body) {
    if (Array.isArray(item)) {
      if (!item.every((r) => typeof r === 'string')) return undefined;
      out.push(item as string[]);
    } else {
      out.push(null);
    }
  }
  return out;
}

/** The value of a `sequence` property: the JSON of the feed position, as Sync Gateway marshals SequenceID. */
export const sequenceProperty = (seq: number | string): string => JSON.stringify(seq);
