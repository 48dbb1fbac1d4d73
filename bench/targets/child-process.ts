import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { track, untrack, type Resource } from '../cleanup.ts';

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Set once the process has exited. */
  exitCode(): number | string | null;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  cwd: string;
  logPath: string;
  env?: NodeJS.ProcessEnv;
  /** Give the child an IPC channel (lets it notice when the parent dies). */
  ipc?: boolean;
}

/**
 * Spawns a server in its own process group, output to a log file, and
 * registers it for cleanup. Killing the group also reaches any process the
 * server itself starts.
 */
export function spawnServer(name: string, command: string, args: string[], options: SpawnOptions): Child {
  const logFd = openSync(options.logPath, 'a');
  const stdio: StdioOptions = options.ipc ? ['ignore', logFd, logFd, 'ipc'] : ['ignore', logFd, logFd];
  let proc: ChildProcess;
  try {
    proc = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio, detached: true });
  } finally {
    closeSync(logFd);
  }
  if (proc.pid === undefined) throw new Error(`${name}: failed to spawn ${command}`);
  const pid = proc.pid;
  let exit: number | string | null = null;
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exit = code ?? signal ?? 'unknown';
      resolve();
    });
  });
  proc.once('error', (err) => {
    exit = err.message;
  });

  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };

  const resource: Resource = {
    name,
    async close() {
      if (exit === null) {
        killGroup('SIGTERM');
        const stopped = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
        if (!stopped) killGroup('SIGKILL');
      }
      // Leftover processes of the group, if the server spawned any.
      killGroup('SIGKILL');
    },
    closeSync() {
      killGroup('SIGKILL');
    },
  };
  track(resource);

  return {
    name,
    pid,
    logPath: options.logPath,
    exitCode: () => exit,
    async stop() {
      untrack(resource);
      await resource.close();
    },
  };
}

export function logTail(logPath: string, lines = 20): string {
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200, failing early if the child exits. */
export async function waitForHttp(url: string, child: Child | undefined, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child && child.exitCode() !== null) {
      throw new Error(`${child.name} exited (${child.exitCode()}) before ${url} answered.\n${logTail(child.logPath)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  const tail = child ? `\n${logTail(child.logPath)}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${url} (${last})${tail}`);
}
