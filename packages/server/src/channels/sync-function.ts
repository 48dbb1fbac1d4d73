/**
 * The database's sync function, run on every document write. See prelude.ts for the builtins it can call and
 * sync-result.ts for how their records become a SyncResult.
 */
import { Sandbox, SandboxCompileError } from './sandbox.ts';
import type { SandboxOptions } from './sandbox.ts';
import { finalizeSyncOutput, rejected } from './sync-result.ts';
import type { RawSyncOutput, SyncResult } from './sync-result.ts';
import { checkInputDepth, parseRawSyncOutput } from './raw-output.ts';
import { runDefaultSyncFunction } from './default-sync.ts';

export const DEFAULT_SYNC_FUNCTION = 'function (doc) { channel(doc.channels); }';

/** The writing user; null for an admin write (every require* call passes). */
export interface SyncUser {
  name: string;
  channels: readonly string[];
  /** Role names, without the `role:` prefix. */
  roles: readonly string[];
}

export interface SyncFunctionOptions {
  dbName: string;
  timeoutMs?: number;
  memoryLimitBytes?: number;
  /** Run the default function natively instead of in the sandbox (same results); default true. */
  nativeDefault?: boolean;
}

/** A sync function or import filter that does not compile, or is not a function. */
export class SyncFunctionError extends Error {
  readonly line: number | undefined;
  constructor(message: string, line?: number) {
    super(message);
    this.name = 'SyncFunctionError';
    this.line = line;
  }
}

export class SyncFunction {
  readonly dbName: string;
  readonly source: string;
  private readonly sandbox: Sandbox | null;

  private constructor(source: string, dbName: string, sandbox: Sandbox | null) {
    this.source = source;
    this.dbName = dbName;
    this.sandbox = sandbox;
  }

  static compile(source: string, opts: SyncFunctionOptions): SyncFunction {
    if ((opts.nativeDefault ?? true) && isDefaultSource(source)) return new SyncFunction(source, opts.dbName, null);
    const sandbox = compileSandbox('sync function', opts.dbName, {
      source,
      mode: 'sync',
      fileName: 'sync-function.js',
      timeoutMs: opts.timeoutMs,
      memoryLimitBytes: opts.memoryLimitBytes,
    });
    return new SyncFunction(source, opts.dbName, sandbox);
  }

  /** True when the native implementation of the default function is used. */
  get isNative(): boolean {
    return this.sandbox === null;
  }

  /**
   * Runs the function for one write. Inputs must be plain JSON values; `doc._deleted` is true for a deletion.
   * Never throws: failures come back as `rejection`.
   */
  run(
    doc: Record<string, unknown>,
    oldDoc: Record<string, unknown> | null,
    meta: Record<string, unknown>,
    user: SyncUser | null,
  ): SyncResult {
    const tooDeep = checkInputDepth(doc, oldDoc, meta);
    if (tooDeep !== null) return rejected(400, tooDeep);
    const nowSeconds = Math.floor(Date.now() / 1000);
    if (this.sandbox === null) return finalizeSyncOutput(runDefaultSyncFunction(doc), nowSeconds);

    let input: string;
    try {
      const userCtx = user === null ? null : { name: user.name, channels: user.channels, roles: user.roles };
      input = JSON.stringify({ doc, oldDoc, meta, user: userCtx });
    } catch (err) {
      return rejected(400, `Document cannot be passed to the sync function: ${(err as Error).message}`);
    }
    const outcome = this.sandbox.call(input);
    if (!outcome.ok) {
      if (outcome.timedOut) {
        return rejected(500, `sync function timed out after ${this.sandbox.timeoutMs} ms (database "${this.dbName}")`);
      }
      return rejected(500, `Exception in JS sync function: ${outcome.message}`);
    }
    const raw: RawSyncOutput | null = parseRawSyncOutput(outcome.output);
    if (raw === null) {
      // Only tampering inside the sandbox (say, Object.prototype.toJSON) gets here; start over from a clean one.
      this.sandbox.recycle();
      return rejected(500, 'sync function produced an unreadable result');
    }
    if (raw.reset === 1) this.sandbox.recycle();
    return finalizeSyncOutput(raw, nowSeconds);
  }

  dispose(): void {
    this.sandbox?.dispose();
  }
}

export function compileSandbox(kind: string, dbName: string, opts: SandboxOptions): Sandbox {
  try {
    return new Sandbox(opts);
  } catch (err) {
    const line = err instanceof SandboxCompileError ? err.line : undefined;
    throw new SyncFunctionError(`${kind} of database "${dbName}": ${(err as Error).message}`, line);
  }
}

const normalize = (source: string): string =>
  source.trim().replace(/\s+/g, ' ').replace(/ ?([^\w$ ]) ?/g, '$1').replace(/;}/g, '}');

const DEFAULT_NORMALIZED = normalize(DEFAULT_SYNC_FUNCTION);

/** Whether `source` is the default function, give or take whitespace and a final semicolon. */
export function isDefaultSource(source: string): boolean {
  return normalize(source) === DEFAULT_NORMALIZED;
}
