/**
 * Counters of a database's activity since it was opened, for `/_metrics` and `/_expvar` (read when scraped).
 * Imports have their own counters (ImportStats).
 */
export class DbStats {
  /** Revisions written through the gateway (REST writes and replication pushes; not imports). */
  docWrites = 0;
  /** UTF-8 bytes of the JSON bodies of those revisions. */
  docWritesBytes = 0;
  /** Revisions sent to clients: document GETs, open_revs, _bulk_get, and include_docs of _changes and _all_docs. */
  docReads = 0;
  /** Public-API requests authenticated (a user, a session or GUEST). */
  authSuccess = 0;
  /** Public-API requests refused authentication (401). */
  authFailed = 0;
  /** Time spent authenticating public-API requests, in nanoseconds. */
  authTimeNs = 0;
  /** _changes requests in progress and started: feed=normal ("one shot"), and longpoll or continuous. */
  pullActiveOneShot = 0;
  pullTotalOneShot = 0;
  pullActiveContinuous = 0;
  pullTotalContinuous = 0;
  /** _changes requests starting from the beginning (since=0): new replications. */
  pullSinceZero = 0;
  /** Sync function runs (REST writes, replication pushes, imports, resync), time spent in them (nanoseconds). */
  syncFunctionCount = 0;
  syncFunctionTimeNs = 0;
  /** Runs that failed: an exception, a time-out or an invalid result (a 5xx rejection). */
  syncFunctionExceptions = 0;
  /** Runs that rejected the revision on purpose: throw({forbidden}), a failed require* call (a 4xx rejection). */
  syncFunctionRejects = 0;
  /** BLIP (Couchbase Lite replication) WebSocket connections open now, and opened since the database opened. */
  blipActive = 0;
  blipTotal = 0;

  /**
   * Counts one sync function run that started at `started` (process.hrtime.bigint()); `rejectionStatus` is the
   * status of its rejection, if it rejected the revision.
   */
  syncFunctionRan(started: bigint, rejectionStatus: number | undefined): void {
    this.syncFunctionCount++;
    this.syncFunctionTimeNs += Number(process.hrtime.bigint() - started);
    if (rejectionStatus === undefined) return;
    if (rejectionStatus >= 500) this.syncFunctionExceptions++;
    else this.syncFunctionRejects++;
  }

  /** Counts a BLIP connection as opened; the returned function counts it as closed (once, however often called). */
  blipConnected(): () => void {
    this.blipActive++;
    this.blipTotal++;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.blipActive--;
    };
  }

  /** Counts a _changes feed as started; the returned function counts it as ended. */
  startPull(continuous: boolean, sinceZero: boolean): () => void {
    if (sinceZero) this.pullSinceZero++;
    if (continuous) {
      this.pullActiveContinuous++;
      this.pullTotalContinuous++;
    } else {
      this.pullActiveOneShot++;
      this.pullTotalOneShot++;
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (continuous) this.pullActiveContinuous--;
      else this.pullActiveOneShot--;
    };
  }
}
