export { DEFAULT_SYNC_FUNCTION, SyncFunction, SyncFunctionError, isDefaultSource } from './sync-function.ts';
export type { SyncFunctionOptions, SyncUser } from './sync-function.ts';
export { ImportFilter } from './import-filter.ts';
export type { ImportFilterOptions, ImportFilterResult } from './import-filter.ts';
export { toError } from './sync-result.ts';
export type { SyncRejection, SyncResult } from './sync-result.ts';
export { isValidChannelName, PUBLIC_CHANNEL, STAR_CHANNEL } from './channel-names.ts';
export { DEFAULT_MEMORY_LIMIT_BYTES, DEFAULT_TIMEOUT_MS } from './sandbox.ts';
