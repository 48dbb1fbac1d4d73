/**
 * One user function in its own QuickJS runtime and context, built once and reused for every call. The sandbox
 * has nothing from Node: no host functions are installed, values cross as JSON strings only.
 *
 * Limits: a wall-clock deadline per call (QuickJS's interrupt handler; the interrupt cannot be caught by the
 * user's try/catch), a memory limit for the runtime, and a small stack limit. The stack limit is small on
 * purpose: QuickJS measures its stack inside WebAssembly memory, but the WebAssembly frames also consume the
 * host's native stack (~1 MB in Node), several times faster on some paths (JSON.stringify of deep structures);
 * at 32 KB the worst paths measured stay well under half of Node's stack.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from 'quickjs-emscripten-core';
import { currentModule, retireIfBloated, retireModule } from './quickjs-module.ts';
import { preludeSource } from './prelude.ts';
import type { PreludeMode } from './prelude.ts';

const UNDERSCORE = readFileSync(createRequire(import.meta.url).resolve('underscore/underscore-umd.js'), 'utf8');

export const DEFAULT_TIMEOUT_MS = 1000;
export const DEFAULT_MEMORY_LIMIT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_STACK_SIZE_BYTES = 32 * 1024;
/** Setup (underscore, prelude) gets at least this long, whatever the per-call timeout. */
const SETUP_TIMEOUT_MS = 5000;

export interface SandboxOptions {
  source: string;
  mode: PreludeMode;
  /** Name used in error positions, e.g. "sync-function.js". */
  fileName: string;
  timeoutMs?: number;
  memoryLimitBytes?: number;
  stackSizeBytes?: number;
}

export type CallOutcome = { ok: true; output: string } | { ok: false; timedOut: boolean; message: string };

/** The user's source failed to compile, or did not evaluate to a function. */
export class SandboxCompileError extends Error {
  readonly line: number | undefined;
  constructor(message: string, line?: number) {
    super(message);
    this.name = 'SandboxCompileError';
    this.line = line;
  }
}

interface Live {
  module: QuickJSWASMModule;
  rt: QuickJSRuntime;
  ctx: QuickJSContext;
  run: QuickJSHandle;
}

export class Sandbox {
  readonly timeoutMs: number;
  private readonly opts: SandboxOptions;
  private live: Live | null = null;
  private deadline = 0;
  private interrupted = false;
  private disposed = false;

  /** Builds the sandbox at once, so that compile errors surface here. */
  constructor(opts: SandboxOptions) {
    this.opts = opts;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.live = this.build();
  }

  /** Calls the entry point with one JSON string; never throws for anything the user's code does. */
  call(input: string): CallOutcome {
    if (this.disposed) throw new Error('sandbox used after dispose()');
    let live: Live;
    try {
      live = this.ready();
    } catch (err) {
      return { ok: false, timedOut: false, message: `JavaScript sandbox unavailable: ${(err as Error).message}` };
    }
    const { ctx, rt } = live;
    this.arm(this.timeoutMs);
    try {
      const arg = ctx.newString(input);
      const result = ctx.callFunction(live.run, ctx.undefined, arg);
      arg.dispose();
      if (result.error) {
        const message = this.interrupted ? 'interrupted' : describeError(ctx, result.error);
        result.error.dispose();
        // Only a deadline is a routine failure here; anything else escaped the prelude's own try/catch.
        if (!this.interrupted) this.recycle();
        return { ok: false, timedOut: this.interrupted, message };
      }
      const output = ctx.getString(result.value);
      result.value.dispose();
      if (rt.hasPendingJob()) {
        // Promise callbacks the function queued run now, within what is left of the deadline; they cannot
        // change the result any more, but left queued they would pile up.
        const jobs = rt.executePendingJobs();
        if (jobs.error) jobs.error.dispose();
      }
      return { ok: true, output };
    } catch (err) {
      this.abandon(live);
      return { ok: false, timedOut: false, message: `JavaScript sandbox failure: ${(err as Error).message}` };
    }
  }

  /** Throws the context away; the next call builds a fresh one. */
  recycle(): void {
    const live = this.live;
    this.live = null;
    if (live === null) return;
    try {
      release(live);
      retireIfBloated(live.module);
    } catch {
      retireModule(live.module);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.recycle();
  }

  private ready(): Live {
    if (this.live !== null && this.live.module === currentModule()) return this.live;
    this.recycle();
    this.live = this.build();
    return this.live;
  }

  private arm(ms: number): void {
    this.deadline = Date.now() + ms;
    this.interrupted = false;
  }

  private readonly onInterrupt = (): boolean => {
    if (Date.now() <= this.deadline) return false;
    this.interrupted = true;
    return true;
  };

  private build(): Live {
    const module = currentModule();
    if (module === null) throw new Error('the JavaScript engine is restarting, try again');
    const rt = module.newRuntime();
    const handles: QuickJSHandle[] = [];
    let ctx: QuickJSContext | null = null;
    try {
      rt.setMemoryLimit(this.opts.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES);
      rt.setMaxStackSize(this.opts.stackSizeBytes ?? DEFAULT_STACK_SIZE_BYTES);
      rt.setInterruptHandler(this.onInterrupt);
      ctx = rt.newContext();
      this.arm(Math.max(this.timeoutMs, SETUP_TIMEOUT_MS));
      handles.push(evalSetup(ctx, UNDERSCORE, 'underscore.js'));
      const install = evalSetup(ctx, preludeSource(this.opts.mode), 'prelude.js');
      handles.push(install);
      this.arm(this.timeoutMs);
      const fn = this.evalUser(ctx);
      handles.push(fn);
      const run = ctx.callFunction(install, ctx.undefined, fn);
      if (run.error) {
        const message = describeError(ctx, run.error);
        run.error.dispose();
        throw new SandboxCompileError(`sandbox setup failed: ${message}`);
      }
      for (const h of handles.splice(0)) h.dispose();
      return { module, rt, ctx, run: run.value };
    } catch (err) {
      if (!(err instanceof SandboxCompileError)) {
        // A host exception from inside WebAssembly: this runtime and its module are not to be touched again.
        retireModule(module);
        throw new SandboxCompileError(`JavaScript engine failure while compiling: ${(err as Error).message}`);
      }
      for (const h of handles) h.dispose();
      ctx?.dispose();
      rt.dispose();
      throw err;
    }
  }

  private evalUser(ctx: QuickJSContext): QuickJSHandle {
    // Parenthesized so the source must be one expression; the newline keeps a trailing // comment harmless.
    const result = ctx.evalCode(`(${this.opts.source}\n)`, this.opts.fileName);
    if (result.error) {
      const info = errorInfo(ctx, result.error, this.interrupted);
      result.error.dispose();
      throw new SandboxCompileError(info.message, info.line);
    }
    if (ctx.typeof(result.value) !== 'function') {
      result.value.dispose();
      throw new SandboxCompileError('the source does not evaluate to a function');
    }
    return result.value;
  }

  private abandon(live: Live): void {
    // Neither the runtime nor its module is trusted any more; leaking them is safer than freeing them.
    retireModule(live.module);
    if (this.live === live) this.live = null;
  }
}

function evalSetup(ctx: QuickJSContext, code: string, fileName: string): QuickJSHandle {
  const result = ctx.evalCode(code, fileName);
  if (!result.error) return result.value;
  const message = describeError(ctx, result.error);
  result.error.dispose();
  throw new SandboxCompileError(`sandbox setup failed in ${fileName}: ${message}`);
}

function release(live: Live): void {
  live.run.dispose();
  live.ctx.dispose();
  live.rt.dispose();
}

interface ErrorInfo {
  /** "TypeError: x is not a function", or with the line: "SyntaxError at line 3: expecting ','". */
  message: string;
  line?: number;
}

function errorInfo(ctx: QuickJSContext, handle: QuickJSHandle, interrupted: boolean): ErrorInfo {
  if (interrupted) return { message: 'timed out while evaluating the source' };
  let dumped: unknown;
  try {
    dumped = ctx.dump(handle);
  } catch {
    return { message: 'unknown error' };
  }
  if (dumped === null || typeof dumped !== 'object') return { message: String(dumped) };
  const e = dumped as { name?: unknown; message?: unknown; lineNumber?: unknown };
  if (typeof e.message !== 'string') return { message: JSON.stringify(dumped) };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  if (typeof e.lineNumber !== 'number') return { message: `${name}: ${e.message}` };
  return { message: `${name} at line ${e.lineNumber}: ${e.message}`, line: e.lineNumber };
}

function describeError(ctx: QuickJSContext, handle: QuickJSHandle): string {
  return errorInfo(ctx, handle, false).message;
}
