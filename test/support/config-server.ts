import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Runs the `syncline` CLI on a config file written by the test itself (edge-mode JSON5 configs, TLS), as
 * opposed to server-process.ts, which writes the config for the test.
 */
export const BIN = resolve(import.meta.dirname, '../../packages/server/bin/syncline.js');

/** The environment of spawned commands: a cheap password-hashing cost (test-only setting of the CLI). */
export const TEST_ENV = { ...process.env, SYNCLINE_TEST_SCRYPT_N: '1024' };

/** Runs one CLI command to completion. */
export function runCli(args: string[], opts: { cwd?: string; input?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: TEST_ENV, cwd: opts.cwd, input: opts.input ?? '' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface ConfigServer extends AsyncDisposable {
  url: string;
  adminUrl: string;
  output: string[];
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `syncline serve --config FILE` and waits for the public and admin listeners. */
export function startConfigServer(configFile: string, cwd: string): Promise<ConfigServer> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], { cwd, env: TEST_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolvePromise, reject) => {
    let url: string | undefined;
    let adminUrl: string | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'public API listening') url = entry.url;
        if (entry.msg === 'admin API listening') adminUrl = entry.url;
      } catch {
        // not a log line
      }
      if (url && adminUrl) resolvePromise({ url, adminUrl, output, process: child, stop, [Symbol.asyncDispose]: stop });
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${output.join('\n')}`)));
  });
}

/** Runs `syncline serve` on a config expected to be refused: its exit status and standard error. */
export function serveExpectingFailure(configFile: string, cwd: string): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, 'serve', '--config', configFile], { cwd, env: TEST_ENV, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stderr: result.stderr };
}
