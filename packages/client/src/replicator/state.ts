/**
 * The replicator's states and the transitions allowed between them (after LiteCore's activity levels:
 * stopped, offline, connecting, idle, busy).
 *
 * | from        | event                                   | to          |
 * |-------------|-----------------------------------------|-------------|
 * | stopped     | start()                                 | connecting  |
 * | connecting  | session open                            | busy        |
 * | connecting  | transient failure                       | offline     |
 * | connecting  | permanent failure                       | stopped     |
 * | busy        | all caught up, continuous               | idle        |
 * | busy        | all caught up, one-shot                 | stopping    |
 * | idle        | new changes either way                  | busy        |
 * | busy, idle  | connection lost or transient failure    | offline     |
 * | busy, idle  | permanent failure                       | stopping    |
 * | offline     | retry delay elapsed                     | connecting  |
 * | any but stopped | stop()                              | stopping    |
 * | stopping    | connection closed                       | stopped     |
 * | offline     | stop(), or retries exhausted            | stopped     |
 */
export type ReplicatorState = 'stopped' | 'connecting' | 'busy' | 'idle' | 'offline' | 'stopping';

export const TRANSITIONS: Readonly<Record<ReplicatorState, readonly ReplicatorState[]>> = {
  stopped: ['connecting'],
  connecting: ['busy', 'offline', 'stopped', 'stopping'],
  busy: ['idle', 'stopping', 'offline'],
  idle: ['busy', 'stopping', 'offline'],
  offline: ['connecting', 'stopped'],
  stopping: ['stopped'],
};

export function canTransition(from: ReplicatorState, to: ReplicatorState): boolean {
  return TRANSITIONS[from].includes(to);
}
