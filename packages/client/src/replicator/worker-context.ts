import type { BlipConnection } from '@syncline/protocol';
import type { LocalStore } from '../store/local-store.ts';
import type { Checkpointer } from './checkpointer.ts';
import type { ConflictResolver } from './conflict-resolver.ts';

/** The end of one document's replication: done, purged, or failed with an HTTP-like status. */
export interface DocumentEvent {
  direction: 'pull' | 'push';
  docId: string;
  revId: string;
  deleted?: boolean;
  /** The local copy was purged (revocation or removal from the user's channels). */
  purged?: boolean;
  error?: { status: number; message: string };
}

/** What the puller and pusher share with the replicator for one connection. */
export interface WorkerContext {
  connection: BlipConnection;
  store: LocalStore;
  checkpointer: Checkpointer;
  /** CBMobile version of the connection (2 or 3). */
  cbMobile: number;
  continuous: boolean;
  channels: readonly string[] | undefined;
  docIds: readonly string[] | undefined;
  /** Resolves pulled conflicts; undefined: Couchbase Lite's default rules. */
  conflictResolver?: ConflictResolver | undefined;
  /** Changes per batch (subChanges `batch`, local changes per proposeChanges); default CHANGES_BATCH_SIZE. */
  batchSize?: number | undefined;
  documentEnded(event: DocumentEvent): void;
  /** Tells the replicator that activity changed, so it can save a checkpoint or go idle. */
  activityChanged(): void;
  /** A failure that ends this connection. */
  fatal(error: unknown): void;
}

export const isTrue = (value: string | undefined): boolean => value !== undefined && value !== '' && value !== 'false' && value !== '0';

export function errorStatus(error: unknown): number {
  if (typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number') return (error as { status: number }).status;
  return 500;
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
