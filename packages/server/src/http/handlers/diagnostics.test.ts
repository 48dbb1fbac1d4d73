import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSynclineError } from '../../base/errors.ts';
import { Query } from '../query.ts';
import { parseImportFilterDryRun, parseSyncDryRun } from './diagnostics.ts';

const query = (params: Record<string, string> = {}) => new Query(new URLSearchParams(params));

/** The parser's outcome: its result, or the status of the error it threw (anything else is rethrown). */
function outcome<T>(parse: () => T): T | { status: number } {
  try {
    return parse();
  } catch (err) {
    if (!isSynclineError(err)) throw err;
    return { status: err.status };
  }
}

describe('parsing a sync function dry run request', () => {
  it('maps Sync Gateway`s body to the dry run input', () => {
    expect(
      parseSyncDryRun(
        {
          doc: { a: 1 },
          doc_id: 'd',
          sync_function: 'function (doc) {}',
          userCtx: { name: 'u', roles: ['r'] },
          meta: { xattrs: null },
        },
        query(),
      ),
    ).toEqual({ doc: { a: 1 }, docId: 'd', syncFunction: 'function (doc) {}', userCtx: { name: 'u', roles: ['r'], channels: [] } });
    expect(parseSyncDryRun({ doc: { a: 1 }, oldDoc: { b: 2 }, user: 'ann' }, query())).toEqual({ doc: { a: 1 }, oldDoc: { b: 2 }, userName: 'ann' });
  });

  it('takes doc_id and user from the query string, treats null and "" as absent', () => {
    expect(parseSyncDryRun(undefined, query({ doc_id: 'd', user: 'ann' }))).toEqual({ docId: 'd', userName: 'ann' });
    expect(parseSyncDryRun({ doc_id: 'd' }, query({ doc_id: 'd' }))).toEqual({ docId: 'd' });
    expect(parseSyncDryRun({ doc: null, doc_id: '', sync_function: null, userCtx: null }, query({ doc_id: '' }))).toEqual({});
  });

  it('refuses malformed members with 400', () => {
    const bad: unknown[] = [
      [],
      'doc',
      { doc: 1 },
      { oldDoc: [] },
      { doc_id: 5 },
      { sync_function: {} },
      { userCtx: 'u' },
      { userCtx: {} },
      { userCtx: { name: 'u', roles: [1] } },
      { userCtx: { name: 'u', extra: true } },
      { meta: 'm' },
      { meta: { xattrs: {} } },
      { user: true },
      { import_filter: 'x' },
    ];
    for (const body of bad) expect(outcome(() => parseSyncDryRun(body, query()))).toEqual({ status: 400 });
    expect(outcome(() => parseSyncDryRun({ doc_id: 'a' }, query({ doc_id: 'b' })))).toEqual({ status: 400 });
  });
});

describe('parsing an import filter dry run request', () => {
  it('maps Sync Gateway`s body to the dry run input', () => {
    expect(parseImportFilterDryRun({ doc: { t: 1 }, import_filter: 'function (doc) { return true; }' }, query())).toEqual({
      doc: { t: 1 },
      importFilter: 'function (doc) { return true; }',
    });
    expect(parseImportFilterDryRun(undefined, query({ doc_id: 'x' }))).toEqual({ docId: 'x' });
    expect(outcome(() => parseImportFilterDryRun({ sync_function: 'x' }, query()))).toEqual({ status: 400 });
  });
});

describe('the dry run request parsers under random input', () => {
  const key = fc.constantFrom('doc', 'oldDoc', 'doc_id', 'sync_function', 'import_filter', 'userCtx', 'user', 'meta', '__proto__', 'x');
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record({ name: fc.jsonValue({ maxDepth: 1 }), roles: fc.jsonValue({ maxDepth: 1 }), channels: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
    fc.record({ xattrs: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
  );
  const body = fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }), fc.dictionary(key, value, { maxKeys: 5 }).map((d) => JSON.parse(JSON.stringify(d)) as unknown));
  const params = fc.dictionary(fc.constantFrom('doc_id', 'user', 'other'), fc.string({ maxLength: 8 }), { maxKeys: 3 });

  it('either parse or refuse with 400, never anything else', () => {
    fc.assert(
      fc.property(body, params, (raw, qs) => {
        for (const parse of [parseSyncDryRun, parseImportFilterDryRun]) {
          const result = outcome(() => parse(raw, query(qs)));
          if ('status' in result) expect(result.status).toBe(400);
          else expect(typeof result).toBe('object');
        }
      }),
      { numRuns: 2000, seed: 20_250_302 },
    );
  });
});
