/**
 * Mutation-log partition of a document id, computed by a pure-SQL expression inside the documents-table triggers
 * (so that writers with plain SQLite, without custom functions, log correctly) and mirrored here in TypeScript.
 *
 * The hash mixes the length, the first, middle and last four characters (code points). Every weight is odd so
 * that consecutive trailing characters (e.g. "doc-1", "doc-2") spread over power-of-two partition counts.
 */

const LENGTH_WEIGHT = 131;
const FIRST_WEIGHT = 31;
const MIDDLE_WEIGHT = 97;
/** Weights of the last, second-to-last, ... characters. */
const TAIL_WEIGHTS = [1, 7, 17, 53] as const;

/**
 * One SQLite file is served by one node, whose single import worker reads the whole log in order: one
 * partition, and no partition index to maintain on every write. Partitions pay off when several nodes share
 * the import work (PostgreSQL).
 */
export const DEFAULT_PARTITIONS = 1;
export const MAX_PARTITIONS = 1024;

export function validatePartitions(partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RangeError(`partitions must be an integer between 1 and ${MAX_PARTITIONS}, got ${partitions}`);
  }
  return partitions;
}

/** SQL expression yielding the partition of the TEXT expression `idExpr` (e.g. "NEW.id"). */
export function partitionSql(idExpr: string, partitions: number): string {
  validatePartitions(partitions);
  const char = (start: string): string => `coalesce(unicode(substr(${idExpr}, ${start}, 1)), 0)`;
  const terms = [
    `length(${idExpr}) * ${LENGTH_WEIGHT}`,
    `${char('1')} * ${FIRST_WEIGHT}`,
    `${char(`(length(${idExpr}) + 1) / 2`)} * ${MIDDLE_WEIGHT}`,
    ...TAIL_WEIGHTS.map((weight, i) => `${char(String(-(i + 1)))} * ${weight}`),
  ];
  return `((${terms.join(' + ')}) % ${partitions})`;
}

/**
 * The same hash in TypeScript. SQLite sees text as UTF-8, so lone surrogates (which become U+FFFD when bound)
 * are mapped the same way. Ids containing NUL are not supported (SQLite's length() stops at NUL).
 */
export function partitionOf(id: string, partitions: number): number {
  validatePartitions(partitions);
  const cps = Array.from(id, (ch) => {
    const cp = ch.codePointAt(0) ?? 0;
    return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
  });
  const n = cps.length;
  // SQLite substr(X, start, 1): 1-based from the left, negative from the right, 0 or out of range is empty.
  const at = (start: number): number => {
    const index = start > 0 ? start - 1 : start < 0 ? n + start : -1;
    return index >= 0 && index < n ? (cps[index] ?? 0) : 0;
  };
  let sum = n * LENGTH_WEIGHT + at(1) * FIRST_WEIGHT + at(Math.trunc((n + 1) / 2)) * MIDDLE_WEIGHT;
  TAIL_WEIGHTS.forEach((weight, i) => {
    sum += at(-(i + 1)) * weight;
  });
  return sum % partitions;
}
