import v8 from 'node:v8';
import vm from 'node:vm';

// `npm run bench` has no --expose-gc; turning the flag on at run time and
// fetching gc from a fresh context is the documented-by-practice workaround.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (() => void) | undefined;

/** Full GC between measurements, so one target does not pay for the previous one's garbage. */
export function collectGarbage(): void {
  gc?.();
}
