import type { TargetId, WorkloadId } from './settings.ts';
import type { Measurement, Workload } from './workloads/common.ts';

export type Outcome = Measurement | { error: string };

export const TARGET_LABELS: Record<TargetId, string> = {
  syncline: 'Syncline',
  pouchdb: 'PouchDB Server',
  sqlite: 'raw SQLite',
};

interface Goal {
  workload: WorkloadId;
  against: Exclude<TargetId, 'syncline'>;
  /** Minimum Syncline / peer ratio. */
  min: number;
  text: string;
}

export const GOALS: readonly Goal[] = [
  { workload: 'bulk', against: 'pouchdb', min: 2, text: '_bulk_docs >= 2x PouchDB Server' },
  { workload: 'pull', against: 'pouchdb', min: 2, text: 'pull >= 2x PouchDB Server' },
  { workload: 'bulk', against: 'sqlite', min: 0.4, text: '_bulk_docs >= 40% of raw SQLite' },
];

export const GOALS_SUMMARY = '>= 2x PouchDB Server on _bulk_docs and pull; _bulk_docs >= 40% of raw SQLite';

export class Results {
  readonly #outcomes = new Map<string, Outcome>();

  set(workload: WorkloadId, target: TargetId, outcome: Outcome): void {
    this.#outcomes.set(`${workload}/${target}`, outcome);
  }

  get(workload: WorkloadId, target: TargetId): Outcome | undefined {
    return this.#outcomes.get(`${workload}/${target}`);
  }

  rate(workload: WorkloadId, target: TargetId): number | undefined {
    const o = this.get(workload, target);
    return o && 'docs' in o && o.seconds > 0 ? o.docs / o.seconds : undefined;
  }

  hasErrors(): boolean {
    return [...this.#outcomes.values()].some((o) => 'error' in o);
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

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   '));
}

export function formatWorkload(workload: Workload, targets: readonly TargetId[], results: Results): string[] {
  const lines = [workload.title];
  const rows: string[][] = [['target', 'docs', 'seconds', 'docs/s']];
  const failures: string[] = [];
  const shown = targets.filter((t) => results.get(workload.id, t) !== undefined);
  for (const target of shown) {
    const o = results.get(workload.id, target)!;
    if ('error' in o) {
      rows.push([TARGET_LABELS[target], '-', '-', 'FAILED']);
      failures.push(`  ${TARGET_LABELS[target]} failed: ${o.error.split('\n')[0]}`);
    } else {
      rows.push([TARGET_LABELS[target], int(o.docs), o.seconds.toFixed(2), int(o.docs / o.seconds)]);
    }
  }
  lines.push(...table(rows).map((l) => `  ${l}`), ...failures);
  for (const against of ['pouchdb', 'sqlite'] as const) {
    if (!shown.includes('syncline') || !shown.includes(against)) continue;
    const r = ratio(results, workload.id, against);
    const goal = GOALS.find((g) => g.workload === workload.id && g.against === against);
    const value = r === undefined ? 'n/a' : formatRatio(r, against);
    const note = goal ? `   goal ${goal.text}: ${verdict(r, goal)}` : '';
    lines.push(`  Syncline / ${TARGET_LABELS[against]}: ${value}${note}`);
  }
  return lines;
}

function verdict(r: number | undefined, goal: Goal): string {
  if (r === undefined) return 'n/a';
  return r >= goal.min ? 'PASS' : 'MISS';
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
