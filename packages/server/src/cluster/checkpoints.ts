/** Import checkpoints: per collection and partition, the mutation-log position processed so far. */
export const CHECKPOINT_PREFIX = '_sync:import:checkpoint:';
export const checkpointPrefix = (collection: string): string => `${CHECKPOINT_PREFIX}${collection}:`;
export const checkpointKey = (collection: string, partition: number): string => `${checkpointPrefix(collection)}${partition}`;

/** The position stored in a checkpoint record's value (0 when absent or unreadable). */
export function checkpointPosition(value: string | undefined): number {
  if (value === undefined) return 0;
  try {
    const position = Number((JSON.parse(value) as { position?: unknown }).position);
    return Number.isSafeInteger(position) && position > 0 ? position : 0;
  } catch {
    return 0;
  }
}
