import { afterAll, describe, expect, it } from 'vitest';
import { SyncFunction } from './sync-function.ts';
import { Sandbox } from './sandbox.ts';
import { modulesReady, retiredModuleCount } from './quickjs-module.ts';

const made: { dispose(): void }[] = [];
function compile(source: string, opts: { timeoutMs?: number; memoryLimitBytes?: number } = {}): SyncFunction {
  const fn = SyncFunction.compile(source, { dbName: 'db', ...opts });
  made.push(fn);
  return fn;
}
afterAll(() => {
  for (const m of made) m.dispose();
});

/** Runs `body` (a function body returning a string) in a sync function; the answer comes back as a channel. */
function probe(body: string): string {
  const fn = compile(`function (doc) {
    var out;
    try { out = (function () { ${body} })(); } catch (e) { out = 'threw-' + (e && e.name); }
    channel('r-' + String(out));
  }`);
  const r = fn.run({}, null, {}, null);
  expect(r.rejection).toBeUndefined();
  const [channel] = r.channels;
  return (channel ?? '').slice(2);
}

describe('time limit', () => {
  it('fails a looping call with a timeout and keeps the sandbox usable', () => {
    const fn = compile('function (doc) { if (doc.loop) { while (true) {} } channel("ok"); }', { timeoutMs: 100 });
    const r = fn.run({ loop: true }, null, {}, null);
    expect(r.rejection).toEqual({ status: 500, reason: 'sync function timed out after 100 ms (database "db")' });
    expect(fn.run({}, null, {}, null).channels).toEqual(['ok']);
  });

  it('cannot be caught by the user function', () => {
    const fn = compile('function (doc) { for (;;) { try { while (true) {} } catch (e) { channel("caught"); } } }', {
      timeoutMs: 100,
    });
    expect(fn.run({}, null, {}, null).rejection?.reason).toMatch(/timed out after 100 ms/);
  });

  it('stops a catastrophic regular expression', () => {
    const fn = compile('function (doc) { /(a|b)*c/.test(doc.s); }', { timeoutMs: 100 });
    expect(fn.run({ s: 'ab'.repeat(50_000) }, null, {}, null).rejection?.reason).toMatch(/timed out/);
  });
});

describe('memory and stack limits', () => {
  it('fails a memory bomb of large allocations cleanly, then works again', async () => {
    const fn = compile('function (doc) { if (doc.bomb) { var a = []; while (true) a.push(new Float64Array(1e6)); } channel("ok"); }');
    const r = fn.run({ bomb: 1 }, null, {}, null);
    expect(r.rejection?.status).toBe(500);
    expect(r.rejection?.reason).toMatch(/out of memory/);
    expect(fn.run({}, null, {}, null).channels).toEqual(['ok']);
    expect(probe('var s = "x"; while (true) s = s + s;')).toBe('threw-InternalError');
    await modulesReady();
  });

  it('recovers when the garbage is kept in a global', () => {
    const fn = compile(
      'function (doc) { if (doc.bomb) { globalThis.hog = []; while (true) hog.push({n: hog.length}); } channel(typeof hog); }',
      { memoryLimitBytes: 8 * 1024 * 1024 },
    );
    expect(fn.run({ bomb: 1 }, null, {}, null).rejection?.reason).toMatch(/out of memory/);
    expect(fn.run({}, null, {}, null).channels).toEqual(['undefined']);
  });

  it('refuses the native loops the deadline cannot stop: generic Array methods on huge lengths', () => {
    for (const code of [
      'return new Array(1e9).indexOf(5);',
      'return Array.prototype.includes.call({ length: 1e12 }, 5);',
      'return [].concat(new Array(1e9)).length;',
      'return String(new Array(1e9));',
    ]) {
      expect(probe(code), code).toBe('threw-RangeError');
    }
    expect(probe('return [3, 1, 2].sort().concat([4]).join("");')).toBe('1234');
  });

  it('fails a recursion bomb cleanly, then works again', () => {
    const fn = compile('function (doc) { function f(n) { return f(n + 1) + 1; } if (doc.bomb) f(0); channel("ok"); }');
    const r = fn.run({ bomb: true }, null, {}, null);
    expect(r.rejection?.status).toBe(500);
    expect(r.rejection?.reason).toMatch(/stack overflow/);
    expect(fn.run({}, null, {}, null).channels).toEqual(['ok']);
  });

  it('survives the deep-structure paths that use the most native stack', () => {
    const fn = compile(`function (doc) {
      var a = []; for (var i = 0; i < 100000; i++) a = [a];
      if (doc.kind === 'stringify') JSON.stringify(a);
      if (doc.kind === 'join') String(a);
      if (doc.kind === 'parse') JSON.parse('['.repeat(100000));
      channel("ok");
    }`);
    for (const kind of ['stringify', 'join', 'parse']) {
      expect(fn.run({ kind }, null, {}, null).rejection?.reason).toMatch(/stack overflow/);
    }
    expect(fn.run({}, null, {}, null).channels).toEqual(['ok']);
  });

  it('refuses a source nested too deeply to parse, and compiles the next one', async () => {
    const source = `function () { return ${'('.repeat(100_000)}1${')'.repeat(100_000)}; }`;
    expect(() => SyncFunction.compile(source, { dbName: 'db' })).toThrow(/sync function of database "db": .*stack overflow|engine failure/);
    await modulesReady();
    expect(compile('function () { channel("fine"); }').run({}, null, {}, null).channels).toEqual(['fine']);
  });

  it('replaces the engine after a host-level failure inside WebAssembly', async () => {
    // A deliberately oversized stack limit lets QuickJS recurse until Node's own stack runs out.
    const sandbox = new Sandbox({
      source: 'function (doc) { function f() { return f() + 1; } return doc.bomb ? f() : true; }',
      mode: 'filter',
      fileName: 'bomb.js',
      stackSizeBytes: 4 * 1024 * 1024,
    });
    made.push(sandbox);
    const before = retiredModuleCount();
    const outcome = sandbox.call('{"bomb":true}');
    expect(outcome).toMatchObject({ ok: false, timedOut: false });
    expect(retiredModuleCount()).toBe(before + 1);
    expect(sandbox.call('{}')).toEqual({ ok: true, output: '{"ok":true}' });
    expect(compile('function () { channel("fine"); }').run({}, null, {}, null).channels).toEqual(['fine']);
    await modulesReady();
  });
});

describe('no way out to Node', () => {
  it('has no Node globals, timers, require or eval', () => {
    const names = ['process', 'require', 'module', 'exports', 'Buffer', 'global', 'setTimeout', 'setInterval'];
    const more = ['setImmediate', 'queueMicrotask', 'fetch', 'WebAssembly', 'std', 'os', 'eval', 'importScripts'];
    for (const name of [...names, ...more]) expect(probe(`return typeof ${name};`), name).toBe('undefined');
    expect(probe('return eval("1");')).toBe('threw-ReferenceError');
  });

  it('cannot compile code from strings through any function constructor', () => {
    expect(probe(`return typeof this.constructor.constructor('return process')();`)).toBe('threw-EvalError');
    expect(probe(`return typeof Function('return globalThis')().require;`)).toBe('threw-EvalError');
    expect(probe(`return typeof new Function('return 1');`)).toBe('threw-EvalError');
    expect(probe(`return typeof (function* () {}).constructor('yield 1');`)).toBe('threw-EvalError');
    expect(probe(`return typeof (async function () {}).constructor('return 1');`)).toBe('threw-EvalError');
    expect(probe(`return typeof (async function* () {}).constructor('return 1');`)).toBe('threw-EvalError');
    expect(probe(`return String((function () {}) instanceof Function);`)).toBe('true');
  });

  it('finds only the sandbox global through this and callers', () => {
    expect(probe('return typeof (function () { return this; })().process;')).toBe('undefined');
    expect(probe('return typeof globalThis.process;')).toBe('undefined');
    const callerProbe = `var c = (function () { return arguments.callee.caller; })();
      if (!c) return 'none';
      try { return typeof c.constructor('return process')(); } catch (e) { return 'threw-' + e.name; }`;
    expect(['none', 'threw-EvalError', 'threw-TypeError']).toContain(probe(callerProbe));
  });

  it('cannot load modules with import()', () => {
    const fn = compile(`function (doc) {
      if (doc.first) {
        import('fs').then(function (m) { globalThis.leak = typeof m; }, function (e) { globalThis.refused = e.name; });
        return;
      }
      channel('leak-' + typeof globalThis.leak, 'refused-' + globalThis.refused);
    }`);
    expect(fn.run({ first: true }, null, {}, null).rejection).toBeUndefined();
    expect(fn.run({}, null, {}, null).channels).toEqual(['leak-undefined', 'refused-ReferenceError']);
  });

  it('keeps prototype pollution inside the sandbox', () => {
    const fn = compile(`function (doc) {
      Object.prototype.polluted = 1;
      Array.prototype.pollutedArray = 1;
      String.prototype.polluted = 1;
      channel("ok");
    }`);
    expect(fn.run({}, null, {}, null).channels).toEqual(['ok']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).pollutedArray).toBeUndefined();
    expect(('' as unknown as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports a tampered result as an error and starts over from a clean sandbox', () => {
    const fn = compile('function (doc) { if (doc.tamper) Array.prototype.toJSON = function () { return 1; }; channel("ok"); }');
    expect(fn.run({ tamper: true }, null, {}, null).rejection).toEqual({
      status: 500,
      reason: 'sync function produced an unreadable result',
    });
    expect(fn.run({}, null, {}, null).channels).toEqual(['ok']);
  });
});
