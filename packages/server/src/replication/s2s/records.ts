/**
 * Bucket records of server-to-server replications (all under `_sync:replication:`): definitions added over
 * REST, the status the running node publishes, the per-replication lease, the local copy of each checkpoint,
 * and the revision of each document last known to be on the remote.
 */
export const REPLICATION_PREFIX = '_sync:replication:';
export const DEF_PREFIX = `${REPLICATION_PREFIX}def:`;
export const defKey = (id: string): string => `${DEF_PREFIX}${id}`;
export const statusKey = (id: string): string => `${REPLICATION_PREFIX}status:${id}`;
export const leaseKey = (id: string): string => `${REPLICATION_PREFIX}lease:${id}`;
export const checkpointPrefix = (id: string): string => `${REPLICATION_PREFIX}checkpoint:${id}:`;
export const remoteRevPrefix = (id: string): string => `${REPLICATION_PREFIX}rev:${id}:`;
/** A random id of this database, created once: part of every replication's checkpoint ID. */
export const UUID_KEY = `${REPLICATION_PREFIX}uuid`;
