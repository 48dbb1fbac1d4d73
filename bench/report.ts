import { TARGET_LABELS, type TargetId, type WorkloadId } from './settings.ts';
import type { Measurement, Workload } from './workloads/common.ts';

interface Goal {
  workload: WorkloadId;
  against: Exclude<TargetId, 'syncline'>;
  /** Minimum Syncline / peer ratio of docs/s. */
  min: number;
  text: string;
}

export const GOALS: readonly Goal[] = [
  { workload: 'bulk', against: 'pouchdb', min: 2, text: '_bulk_docs >= 2x PouchDB Server' },
  { workload: 'pull', against: 'pouchdb', min: 2, text: 'pull >= 2x PouchDB Server' },
  { workload: 'bulk', against: 'sqlite', min: 0.4, text: '_bulk_docs >= 40% of raw SQLite' },
];

export const GOALS_SUMMARY = '>= 2x PouchDB Server on _bulk_docs and pull; _bulk_docs >= 40% of raw SQLite';

interface Summary {
  docs: number;
  seconds: number;
  /** Median docs/s over the rounds. */
  rate: number;
  min: number;
  max: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export class Results {
  readonly #runs = new Map<string, Measurement[]>();
  readonly #errors = new Map<string, string>();

  add(workload: WorkloadId, target: TargetId, measurement: Measurement): void {
    const key = `${workload}/${target}`;
    this.#runs.set(key, [...(this.#runs.get(key) ?? []), measurement]);
  }

  fail(workload: WorkloadId, target: TargetId, error: string): void {
    this.#errors.set(`${workload}/${target}`, error);
  }

  failed(workload: WorkloadId, target: TargetId): boolean {
    return this.#errors.has(`${workload}/${target}`);
  }

  hasErrors(): boolean {
    return this.#errors.size > 0;
  }

  get(workload: WorkloadId, target: TargetId): Summary | { error: string } | undefined {
    const key = `${workload}/${target}`;
    const error = this.#errors.get(key);
    if (error !== undefined) return { error };
    const runs = this.#runs.get(key);
    if (!runs || runs.length === 0) return undefined;
    const rates = runs.map((r) => r.docs / r.seconds);
    return {
      docs: runs[0]!.docs,
      seconds: median(runs.map((r) => r.seconds)),
      rate: median(rates),
      min: Math.min(...rates),
      max: Math.max(...rates),
    };
  }

  rate(workload: WorkloadId, target: TargetId): number | undefined {
    const s = this.get(workload, target);
    return s && 'rate' in s ? s.rate : undefined;
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

function formatRatio(ratio: number, against: TargetId): string {
  return against === 'sqlite' ? `${(ratio * 100).toFixed(0)}%` : `${ratio.toFixed(2)}x`;
}

function ratio(results: Results, workload: WorkloadId, against: TargetId): number | undefined {
  const mine = results.rate(workload, 'syncline');
  const theirs = results.rate(workload, against);
  return mine !== undefined && theirs !== undefined ? mine / theirs : undefined;
}

function verdict(r: number | undefined, goal: Goal): string {
  if (r === undefined) return 'n/a';
  return r >= goal.min ? 'PASS' : 'MISS';
}

/** Rows of cells as aligned columns: the first left-aligned, the others right-aligned. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   '));
}

export function formatWorkload(workload: Workload, targets: readonly TargetId[], results: Results, rounds: number): string[] {
  const lines = [workload.title];
  const header = ['target', 'docs', 'seconds', 'docs/s'];
  if (rounds > 1) header.push(`range over ${rounds} rounds`);
  const rows: string[][] = [header];
  const failures: string[] = [];
  const shown = targets.filter((t) => results.get(workload.id, t) !== undefined);
  for (const target of shown) {
    const s = results.get(workload.id, target)!;
    if ('error' in s) {
      rows.push([TARGET_LABELS[target], '-', '-', 'FAILED', ...(rounds > 1 ? [''] : [])]);
      failures.push(`  ${TARGET_LABELS[target]} failed: ${s.error.split('\n')[0]}`);
      continue;
    }
    const row = [TARGET_LABELS[target], int(s.docs), s.seconds.toFixed(2), int(s.rate)];
    if (rounds > 1) row.push(`${int(s.min)} - ${int(s.max)}`);
    rows.push(row);
  }
  lines.push(...table(rows).map((l) => `  ${l}`), ...failures);
  for (const against of ['pouchdb', 'sqlite'] as const) {
    if (!shown.includes('syncline') || !shown.includes(against)) continue;
    const r = ratio(results, workload.id, against);
    const goal = GOALS.find((g) => g.workload === workload.id && g.against === against);
    const value = r === undefined ? 'n/a' : formatRatio(r, against);
    const note = goal ? `   (goal ${goal.text}: ${verdict(r, goal)})` : '';
    lines.push(`  Syncline / ${TARGET_LABELS[against]}: ${value}${note}`);
  }
  return lines;
}

export function formatGoals(results: Results): string[] {
  const lines = [`Targets: ${GOALS_SUMMARY} (informational)`];
  for (const goal of GOALS) {
    const r = ratio(results, goal.workload, goal.against);
    const value = r === undefined ? 'not measured' : formatRatio(r, goal.against);
    lines.push(`  ${verdict(r, goal).padEnd(4)}  ${goal.text.padEnd(34)} measured ${value}`);
  }
  return lines;
}

/**
 * A Syncline-only section's throughput rows: docs, median seconds and docs/s (with the range over several
 * rounds), a FAILED row for each measurement that failed, followed by the first line of each failure.
 */
export function throughputLines<K extends string>(
  rowDefs: ReadonlyArray<{ key: K; label: string }>,
  samples: ReadonlyMap<K, readonly { docs: number; seconds: number }[]>,
  errors: ReadonlyMap<string, string>,
  rounds: number,
): string[] {
  const int = (x: number): string => Math.round(x).toLocaleString('en-US');
  const header = ['measurement', 'docs', 'seconds', 'docs/s'];
  if (rounds > 1) header.push(`range over ${rounds} rounds`);
  const grid = [header];
  const failures: string[] = [];
  for (const row of rowDefs) {
    const error = errors.get(row.key);
    if (error !== undefined) {
      grid.push([row.label, '-', '-', 'FAILED', ...(rounds > 1 ? [''] : [])]);
      failures.push(`  ${row.label} failed: ${error.split('\n')[0]}`);
      continue;
    }
    const measured = samples.get(row.key) ?? [];
    if (measured.length === 0) continue;
    const perRound = measured.map((m) => m.docs / m.seconds);
    const cells = [row.label, int(measured[0]!.docs), median(measured.map((m) => m.seconds)).toFixed(2), int(median(perRound))];
    if (rounds > 1) cells.push(`${int(Math.min(...perRound))} - ${int(Math.max(...perRound))}`);
    grid.push(cells);
  }
  return [...table(grid).map((l) => `  ${l}`), ...failures];
}
