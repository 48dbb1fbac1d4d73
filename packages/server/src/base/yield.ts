/**
 * Lets Node handle pending I/O and timers. Storage calls on SQLite complete synchronously, so a loop over many
 * pages of them would otherwise hold the event loop (and every request) until it ends.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
