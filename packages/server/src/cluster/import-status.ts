import type { Bucket, Collection } from '../storage/bucket.ts';
import { checkpointPosition, checkpointPrefix } from './checkpoints.ts';
import { liveNodes } from './node-registry.ts';
import { leasePrefix, parseLease } from './partition-leases.ts';

/** One live node of a bucket, as `GET /{db}/_import/status` lists it. */
export interface NodeStatus {
  id: string;
  hostname: string;
  pid: number;
  import_docs: boolean;
  version: string;
  started_at: number;
  heartbeat_age_ms: number;
  /** Partitions whose import lease it holds. */
  partitions: number[];
}

export interface PartitionStatus {
  partition: number;
  /** Node holding the partition's import lease, or null. */
  owner: string | null;
  /** Checkpoint: mutation-log position processed. */
  position: number;
  /** Mutation-log entries above the checkpoint. */
  pending: number;
  /** Age of the oldest of them, or null when there is none. */
  oldest_pending_age_ms: number | null;
}

/** `GET /{db}/_import/status`: this node, the bucket's live nodes and where import stands in every partition. */
export interface ImportStatus {
  node: string;
  engine: string;
  partition_count: number;
  nodes: NodeStatus[];
  partitions: PartitionStatus[];
  /** Totals over the partitions. */
  pending: number;
  oldest_pending_age_ms: number | null;
  unowned_partitions: number;
}

/** Parses the partition number ending a record key that starts with prefix (NaN when it does not). */
const partitionFromKey = (key: string, prefix: string): number => (key.startsWith(prefix) ? Number(key.slice(prefix.length)) : NaN);

/** Reads the cluster's import state of a collection from the bucket (what every node would answer alike). */
export async function importStatus(bucket: Bucket, collection: Collection, nodeId: string, now = Date.now()): Promise<ImportStatus> {
  const count = bucket.partitions;
  const nodes = await liveNodes(bucket);
  const owners: Array<string | null> = new Array<string | null>(count).fill(null);
  const lPrefix = leasePrefix(collection.name);
  for (const record of await bucket.listRecords(lPrefix)) {
    const p = partitionFromKey(record.key, lPrefix);
    const lease = parseLease(record.value);
    if (Number.isInteger(p) && p >= 0 && p < count && lease) owners[p] = lease.node;
  }
  const positions: number[] = new Array<number>(count).fill(0);
  const cPrefix = checkpointPrefix(collection.name);
  for (const record of await bucket.listRecords(cPrefix)) {
    const p = partitionFromKey(record.key, cPrefix);
    if (Number.isInteger(p) && p >= 0 && p < count) positions[p] = checkpointPosition(record.value);
  }
  const backlog = await collection.mutationBacklog(positions);
  const byPartition = new Map(backlog.map((b) => [b.partition, b]));
  const partitions: PartitionStatus[] = positions.map((position, partition) => {
    const b = byPartition.get(partition);
    return {
      partition,
      owner: owners[partition] ?? null,
      position,
      pending: b?.pending ?? 0,
      oldest_pending_age_ms: b?.oldestAt != null ? Math.max(0, now - b.oldestAt) : null,
    };
  });
  const oldest = partitions.reduce<number | null>((max, p) => (p.oldest_pending_age_ms !== null && (max === null || p.oldest_pending_age_ms > max) ? p.oldest_pending_age_ms : max), null);
  return {
    node: nodeId,
    engine: bucket.engine,
    partition_count: count,
    nodes: nodes.map((n) => ({
      id: n.id,
      hostname: n.hostname,
      pid: n.pid,
      import_docs: n.import_docs,
      version: n.version,
      started_at: n.started_at,
      heartbeat_age_ms: Math.max(0, now - n.heartbeat_at),
      partitions: partitions.filter((p) => p.owner === n.id).map((p) => p.partition),
    })),
    partitions,
    pending: partitions.reduce((sum, p) => sum + p.pending, 0),
    oldest_pending_age_ms: oldest,
    unowned_partitions: partitions.filter((p) => p.owner === null).length,
  };
}
