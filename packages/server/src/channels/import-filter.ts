/**
 * The import filter: decides whether a document written directly to the bucket (not through the sync server)
 * is imported. `function (doc) { return doc.type === "mobile"; }`: a truthy return imports. A thrown error or
 * a timeout means "not imported", with the error for the caller to log.
 */
import { compileSandbox } from './sync-function.ts';
import type { Sandbox } from './sandbox.ts';
import { checkInputDepth } from './raw-output.ts';

export interface ImportFilterOptions {
  dbName: string;
  timeoutMs?: number;
  memoryLimitBytes?: number;
}

export interface ImportFilterResult {
  accepted: boolean;
  error?: string;
}

export class ImportFilter {
  readonly dbName: string;
  private readonly sandbox: Sandbox;

  private constructor(dbName: string, sandbox: Sandbox) {
    this.dbName = dbName;
    this.sandbox = sandbox;
  }

  /** Throws SyncFunctionError when the source does not compile or is not a function. */
  static compile(source: string, opts: ImportFilterOptions): ImportFilter {
    const sandbox = compileSandbox('import filter', opts.dbName, {
      source,
      mode: 'filter',
      fileName: 'import-filter.js',
      timeoutMs: opts.timeoutMs,
      memoryLimitBytes: opts.memoryLimitBytes,
    });
    return new ImportFilter(opts.dbName, sandbox);
  }

  run(doc: Record<string, unknown>): ImportFilterResult {
    const tooDeep = checkInputDepth(doc);
    if (tooDeep !== null) return this.refused(tooDeep);
    let input: string;
    try {
      input = JSON.stringify(doc);
    } catch (err) {
      return this.refused(`document is not JSON: ${(err as Error).message}`);
    }
    const outcome = this.sandbox.call(input);
    if (!outcome.ok) {
      return this.refused(outcome.timedOut ? `timed out after ${this.sandbox.timeoutMs} ms` : outcome.message);
    }
    let answer: { ok?: unknown; err?: unknown; reset?: unknown };
    try {
      answer = JSON.parse(outcome.output) as typeof answer;
    } catch {
      this.sandbox.recycle();
      return this.refused('unreadable result');
    }
    if (answer.reset === 1) this.sandbox.recycle();
    if (typeof answer.ok === 'boolean') return { accepted: answer.ok };
    return this.refused(`exception: ${typeof answer.err === 'string' ? answer.err : 'unknown'}`);
  }

  dispose(): void {
    this.sandbox.dispose();
  }

  private refused(why: string): ImportFilterResult {
    return { accepted: false, error: `import filter of database "${this.dbName}": ${why}` };
  }
}
