/**
 * Everything the benchmark must undo (child processes, temp dirs), closed in
 * reverse order of registration on normal end, on errors and on signals.
 */
export interface Resource {
  readonly name: string;
  close(): Promise<void>;
  /** Last resort from the 'exit' event, where nothing async can run. */
  closeSync(): void;
}

const open: Resource[] = [];
let closing: Promise<void> | undefined;

export function track(resource: Resource): void {
  open.push(resource);
}

export function untrack(resource: Resource): void {
  const i = open.indexOf(resource);
  if (i >= 0) open.splice(i, 1);
}

/** True once shutdown has begun (e.g. after Ctrl-C): stop starting new work. */
export function isClosing(): boolean {
  return closing !== undefined;
}

export function closeAll(): Promise<void> {
  closing ??= (async () => {
    while (open.length > 0) {
      const resource = open.pop()!;
      try {
        await resource.close();
      } catch (err) {
        console.error(`cleanup: ${resource.name}: ${String(err)}`);
        resource.closeSync();
      }
    }
  })();
  return closing;
}

function closeAllSync(): void {
  while (open.length > 0) {
    const resource = open.pop()!;
    try {
      resource.closeSync();
    } catch {
      // Nothing more can be done while the process is exiting.
    }
  }
}

export function installExitHandlers(): void {
  process.on('exit', closeAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (closing) {
        // Second signal while cleaning up: stop waiting, the 'exit' handler kills what is left.
        process.exit(130);
      }
      console.error(`\n${signal}: stopping servers and removing temp files...`);
      void closeAll().finally(() => process.exit(130));
    });
  }
}
