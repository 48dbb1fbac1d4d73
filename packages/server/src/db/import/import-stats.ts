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
  /** Epoch ms of the oldest mutation not yet processed, or null when the import is caught up. */
  oldestPendingAt: number | null = null;

  /** Age of the oldest unprocessed direct write, in milliseconds (0 when caught up). */
  lagMs(now = Date.now()): number {
    return this.oldestPendingAt === null ? 0 : Math.max(0, now - this.oldestPendingAt);
  }
}
