/**
 * The default sync function, `function (doc) { channel(doc.channels); }`, without the sandbox. It records
 * exactly what the in-sandbox `channel()` would (same flattening, same warnings, same cap), and the caller runs
 * the same finalization, so results are identical; sync-function.property.test.ts checks that on random docs.
 */
import type { RawSyncOutput } from './sync-result.ts';

/** Matches prelude.ts: at most this many warnings are recorded per call. */
const MAX_WARNINGS = 20;

export function runDefaultSyncFunction(doc: Record<string, unknown>): RawSyncOutput {
  const out: RawSyncOutput = { ch: [], acc: [], roles: [], warn: [] };
  // The sandbox sees the document through JSON; going through JSON here gives the same value (Dates become
  // strings, undefined array items become null, and so on).
  const json = JSON.stringify(doc.channels);
  if (json === undefined) return out;
  const pending: unknown[] = [JSON.parse(json)];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') out.ch.push(v);
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) pending.push(v[i]);
    else if (v !== null && v !== undefined && out.warn.length < MAX_WARNINGS) {
      out.warn.push(`channel() ignored a non-string value of type ${typeof v}`);
    }
  }
  return out;
}
