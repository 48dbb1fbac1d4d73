import { createHash } from 'node:crypto';

export interface CheckpointIdInput {
  localUuid: string;
  remoteUrl: string;
  channels?: readonly string[] | undefined;
  filter?: string | undefined;
  filterParams?: Record<string, string> | undefined;
  docIds?: readonly string[] | undefined;
}

const orNull = <T>(list: readonly T[] | undefined): readonly T[] | null => (list === undefined || list.length === 0 ? null : list);

/**
 * The client checkpoint ID, derived as LiteCore's Checkpointer does: SHA-1 over an array of the local
 * database UUID and the remote URL, plus channels, filter, filter parameters and doc IDs when any of those
 * is set; `cp-` + base64. (LiteCore encodes the array with Fleece; this uses JSON, so the IDs differ from
 * Couchbase Lite's, but they are stable and change whenever the inputs do.)
 */
export function checkpointId(input: CheckpointIdInput): string {
  const parts: unknown[] = [input.localUuid, input.remoteUrl];
  const channels = orNull(input.channels);
  const docIds = orNull(input.docIds);
  if (channels || docIds || input.filter !== undefined) {
    parts.push(channels, input.filter ?? null, input.filterParams ?? null, docIds);
  }
  return `cp-${createHash('sha1').update(JSON.stringify(parts)).digest('base64')}`;
}
