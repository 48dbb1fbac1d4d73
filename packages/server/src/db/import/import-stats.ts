/** Where this node's import stands in one partition it imports. */
export interface PartitionImportState {
  /** Mutation-log position processed (the checkpoint). */
  position: number;
  /** Epoch ms of the oldest mutation of the partition not yet processed, or null when caught up. */
  oldestPendingAt: number | null;
}

/** Counters of a database's import work, for logs, `/_expvar` and Prometheus metrics. */
export class ImportStats {
  /** Documents imported (new revisions created from direct writes). */
  imported = 0;
  /** Direct writes the import filter did not accept. */
  filtered = 0;
  /** Direct writes that could not be imported (invalid body, rejected by the sync function, errors). */
  failed = 0;
  /** Imports abandoned because the document changed again meanwhile (retried from the new state). */
  casCancelled = 0;
  /** Total time spent importing, in milliseconds. */
  processingMs = 0;
  /** Mutation-log entries examined (including the gateway's own writes, which need no import). */
  mutationsRead = 0;
  /** Partition leases this node took (including at start). */
  leasesGained = 0;
  /** Partition leases this node lost without giving them up (a renewal failed or came too late). */
  leasesLost = 0;
  /** The partitions this node imports now, with their positions. */
  readonly partitions = new Map<number, PartitionImportState>();

  /** Epoch ms of the oldest mutation not yet processed in the partitions this node imports, or null when caught up. */
  get oldestPendingAt(): number | null {
    let oldest: number | null = null;
    for (const state of this.partitions.values()) {
      if (state.oldestPendingAt !== null && (oldest === null || state.oldestPendingAt < oldest)) oldest = state.oldestPendingAt;
    }
    return oldest;
  }

  /** Age of the oldest unprocessed direct write, in milliseconds (0 when caught up). */
  lagMs(now = Date.now()): number {
    const oldest = this.oldestPendingAt;
    return oldest === null ? 0 : Math.max(0, now - oldest);
  }

  /** Partitions this node imports now (holds the lease of). */
  get partitionsHeld(): number {
    return this.partitions.size;
  }

  /** The partition is imported from `position` on (its lease was taken and its checkpoint read). */
  startPartition(partition: number, position: number): void {
    this.partitions.set(partition, { position, oldestPendingAt: null });
  }

  /** This node no longer imports the partition. */
  dropPartition(partition: number): void {
    this.partitions.delete(partition);
  }

  setPending(partition: number, oldestPendingAt: number | null): void {
    const state = this.partitions.get(partition);
    if (state) state.oldestPendingAt = oldestPendingAt;
  }

  setPosition(partition: number, position: number): void {
    const state = this.partitions.get(partition);
    if (state) state.position = position;
  }
}
