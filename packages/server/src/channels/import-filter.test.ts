import { afterAll, describe, expect, it } from 'vitest';
import { ImportFilter } from './import-filter.ts';
import { SyncFunctionError } from './sync-function.ts';

const made: ImportFilter[] = [];
function compile(source: string, timeoutMs?: number): ImportFilter {
  const filter = ImportFilter.compile(source, { dbName: 'db', timeoutMs });
  made.push(filter);
  return filter;
}
afterAll(() => {
  for (const f of made) f.dispose();
});

describe('ImportFilter', () => {
  it('imports when the function returns a truthy value', () => {
    const filter = compile('function (doc) { return doc.type === "mobile" ? doc.type : 0; }');
    expect(filter.run({ type: 'mobile' })).toEqual({ accepted: true });
    expect(filter.run({ type: 'server' })).toEqual({ accepted: false });
    expect(filter.run({})).toEqual({ accepted: false });
  });

  it('has underscore and modern syntax', () => {
    const filter = compile('(doc) => _.contains(doc.tags ?? [], "sync")');
    expect(filter.run({ tags: ['a', 'sync'] }).accepted).toBe(true);
    expect(filter.run({}).accepted).toBe(false);
  });

  it('does not import when the function throws, and says why', () => {
    const filter = compile('function (doc) { return doc.nested.type === "x"; }');
    const result = filter.run({});
    expect(result.accepted).toBe(false);
    expect(result.error).toMatch(/^import filter of database "db": exception: TypeError: cannot read property 'type' of undefined/);
  });

  it('does not import on a timeout, and keeps working', () => {
    const filter = compile('function (doc) { while (doc.loop) {} return true; }', 100);
    expect(filter.run({ loop: true })).toEqual({
      accepted: false,
      error: 'import filter of database "db": timed out after 100 ms',
    });
    expect(filter.run({})).toEqual({ accepted: true });
  });

  it('has no sync function builtins', () => {
    expect(compile('function () { return typeof channel === "undefined"; }').run({}).accepted).toBe(true);
  });

  it('reports syntax errors with the database and the line', () => {
    expect(() => ImportFilter.compile('function (doc) {\n  return doc.type ==;\n}', { dbName: 'other' })).toThrow(
      new SyncFunctionError('import filter of database "other": SyntaxError at line 2: unexpected token in expression: \';\'', 2),
    );
  });
});
