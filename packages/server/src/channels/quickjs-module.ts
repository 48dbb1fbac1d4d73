/**
 * The QuickJS WebAssembly modules the sandboxes run on. Every sandbox gets its own QuickJS runtime, but runtimes
 * share one WebAssembly instance (one linear memory), because instantiating it is asynchronous while compiling a
 * sync function is not.
 *
 * A host-side exception thrown from inside WebAssembly (e.g. V8's "Maximum call stack size exceeded" from a
 * QuickJS code path that recurses natively faster than QuickJS's own stack check notices) unwinds without
 * restoring the instance's C stack pointer, so that instance can no longer be trusted. It is then retired: a
 * preloaded spare takes over at once and a new spare is loaded in the background. Sandboxes on a retired module
 * rebuild themselves on the current one at their next call.
 */
import { newQuickJSWASMModuleFromVariant, newVariant } from 'quickjs-emscripten-core';
import type { QuickJSSyncVariant, QuickJSWASMModule } from 'quickjs-emscripten-core';
import releaseSync from '@jitl/quickjs-wasmfile-release-sync';

/**
 * Ceiling on one module's linear memory, shared by all its runtimes. QuickJS's per-runtime memory limit relies
 * on malloc_usable_size, which this WebAssembly build lacks (it counts 8 bytes per allocation), so large
 * allocations are only bounded here. Calls run one at a time, and a runtime that ran out is rebuilt (see
 * Sandbox), so one greedy function cannot starve the others for longer than its own call.
 */
export const MODULE_MEMORY_LIMIT_BYTES = 512 * 1024 * 1024;
/** A module whose memory grew past this (it never shrinks) is replaced after the call that grew it. */
const MODULE_MEMORY_RETIRE_BYTES = 256 * 1024 * 1024;
const PAGE_BYTES = 64 * 1024;
const INITIAL_MEMORY_BYTES = 16 * 1024 * 1024;

// Under NodeNext the package's types are read as CommonJS (default = the exports object), while Node loads its
// ESM build, whose default export is the variant itself; accept either.
const imported = releaseSync as unknown as QuickJSSyncVariant | { default: QuickJSSyncVariant };
const baseVariant: QuickJSSyncVariant = 'default' in imported ? imported.default : imported;
// The project's type libraries do not declare WebAssembly; this is the little used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => WasmMemory } })
  .WebAssembly;
const memories = new WeakMap<QuickJSWASMModule, WasmMemory>();

async function load(): Promise<QuickJSWASMModule> {
  const memory = new Memory({
    initial: INITIAL_MEMORY_BYTES / PAGE_BYTES,
    maximum: MODULE_MEMORY_LIMIT_BYTES / PAGE_BYTES,
  });
  const mod = await newQuickJSWASMModuleFromVariant(newVariant(baseVariant, { wasmMemory: memory }));
  memories.set(mod, memory);
  return mod;
}

let active: QuickJSWASMModule | null = await load();
let spare: QuickJSWASMModule | null = null;
let spareLoading: Promise<void> | null = null;
let retiredCount = 0;

function loadSpare(): void {
  if (spare !== null || spareLoading !== null) return;
  spareLoading = load().then(
    (mod) => {
      spareLoading = null;
      if (active === null) active = mod;
      else spare = mod;
      // Both slots may be empty after two retirements in a row.
      if (spare === null) loadSpare();
    },
    () => {
      spareLoading = null;
    },
  );
}
loadSpare();

/** The module new sandboxes are built on, or null while a replacement is still loading. */
export function currentModule(): QuickJSWASMModule | null {
  return active;
}

/** Stops using `mod` for new work; a no-op when it was already retired. */
export function retireModule(mod: QuickJSWASMModule): void {
  if (mod !== active) return;
  retiredCount++;
  active = spare;
  spare = null;
  loadSpare();
}

/** Retires `mod` when its linear memory has grown so large that a fresh module is worth the rebuilds. */
export function retireIfBloated(mod: QuickJSWASMModule): void {
  const memory = memories.get(mod);
  // Only with a spare at hand: this is housekeeping, not worth a moment without an engine.
  if (spare !== null && memory !== undefined && memory.buffer.byteLength > MODULE_MEMORY_RETIRE_BYTES) retireModule(mod);
}

/** How many modules were retired since the process started (for tests and diagnostics). */
export function retiredModuleCount(): number {
  return retiredCount;
}

/** Resolves once both the active module and a spare are loaded (tests use it after forcing a retirement). */
export async function modulesReady(): Promise<void> {
  while (spareLoading !== null) await spareLoading;
}
