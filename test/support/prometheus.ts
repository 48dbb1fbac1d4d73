/** Reading the Prometheus text exposition in tests. */

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;

/** The samples of metric `name` whose labels include `labels`, as values. */
function matching(text: string, name: string, labels: Record<string, string>): number[] {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const values: number[] = [];
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(',').filter(Boolean);
    if (wanted.every((l) => present.includes(l))) values.push(Number(match[3]));
  }
  return values;
}

/** The value of the first sample of `name` whose labels include `labels`, or undefined when absent. */
export const sample = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => matching(text, name, labels)[0];

/** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
export const total = (text: string, name: string, labels: Record<string, string> = {}): number =>
  matching(text, name, labels).reduce((sum, value) => sum + value, 0);
