/** A replication failure with an HTTP-like status (from a BLIP error reply or the WebSocket handshake). */
export class ReplicationError extends Error {
  readonly status: number;
  /** Permanent errors stop the replicator; others lead to a reconnect. */
  readonly permanent: boolean;

  constructor(status: number, message: string, options: { permanent?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ReplicationError';
    this.status = status;
    this.permanent = options.permanent ?? false;
  }
}
