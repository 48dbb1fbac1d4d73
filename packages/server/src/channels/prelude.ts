/**
 * JavaScript evaluated inside the sandbox before the user's function. It defines Sync Gateway's builtins
 * (channel, access, role, expiry, require*) as plain in-sandbox functions that record into a per-call object,
 * removes the ways to compile code at run time, and evaluates to `install(fn)`, which returns the entry point the
 * host calls with one JSON string and which answers with one JSON string.
 *
 * The recorded output is raw: channel and grant lists as the function passed them (flattened to strings),
 * expiry as given. Validation, merging and expiry arithmetic happen on the host (sync-result.ts), so that the
 * native fast path for the default function shares them.
 *
 * Output of the sync entry: {ch: string[], acc: [string[], string[]][], roles: [string[], string[]][],
 * warn: string[], exp?: number|string, rej?: {status, reason}, reset?: 1}. `reset` asks the host to rebuild
 * the context (after running out of memory, the sandbox's globals may hold the garbage that caused it).
 * Output of the filter entry: {ok: boolean} or {err: string, reset?: 1}.
 */
export type PreludeMode = 'sync' | 'filter' | 'resolver';

const COMMON = String.raw`
  var parse = JSON.parse, stringify = JSON.stringify, isArray = Array.isArray;
  var st = null;

  function describe(e) {
    try {
      if (e instanceof Error) return e.name + ': ' + e.message;
      if (typeof e === 'string') return e;
      var s = stringify(e);
      return s === undefined ? String(e) : s;
    } catch (_) {
      return 'unprintable exception';
    }
  }

  function isOutOfMemory(e) {
    try { return e instanceof Error && e.name === 'InternalError' && e.message === 'out of memory'; }
    catch (_) { return false; }
  }

  // QuickJS polls its interrupt handler from bytecode only, so a native loop over a huge sparse array
  // (new Array(1e9).indexOf(x)) would run far past the deadline. Arrays that long cannot be dense within the
  // memory limit, so the generic Array methods refuse them.
  var MAX_LENGTH = 16777216;
  var reflectApply = Reflect.apply;
  var LOOPING = ['indexOf', 'lastIndexOf', 'includes', 'join', 'toString', 'toLocaleString', 'fill', 'reverse',
    'copyWithin', 'sort', 'splice', 'slice', 'concat', 'flat', 'flatMap', 'forEach', 'map', 'filter', 'some',
    'every', 'reduce', 'reduceRight', 'shift', 'unshift', 'toReversed', 'toSorted', 'toSpliced', 'with'];

  function checkLength(value) {
    var length = value === null || value === undefined ? 0 : Number(value.length);
    if (length > MAX_LENGTH) throw new RangeError('arrays longer than ' + MAX_LENGTH + ' elements are not supported');
  }

  function guardArrayMethods() {
    LOOPING.forEach(function (name) {
      var original = Array.prototype[name];
      if (typeof original !== 'function') return;
      var guarded = {
        [name]: function () {
          checkLength(this);
          if (name === 'concat') for (var i = 0; i < arguments.length; i++) if (isArray(arguments[i])) checkLength(arguments[i]);
          return reflectApply(original, this, arguments);
        },
      }[name];
      Object.defineProperty(Array.prototype, name, { value: guarded, writable: true, configurable: true });
    });
  }

  function lockDown() {
    guardArrayMethods();
    var protos = [
      Function.prototype,
      Object.getPrototypeOf(function* () {}),
      Object.getPrototypeOf(async function () {}),
      Object.getPrototypeOf(async function* () {}),
    ];
    for (var i = 0; i < protos.length; i++) {
      var blocked = function Function() { throw new EvalError('code generation from strings is disabled'); };
      blocked.prototype = protos[i];
      Object.defineProperty(protos[i], 'constructor', { value: blocked, writable: false, configurable: false });
      if (i === 0) global.Function = blocked;
    }
    delete global.eval;
  }
`;

const SYNC = String.raw`
  function note(message) { if (st.warn.length < 20) st.warn[st.warn.length] = message; }

  function collect(value, out, fname) {
    var pending = [value];
    while (pending.length > 0) {
      var v = pending.pop();
      if (typeof v === 'string') out[out.length] = v;
      else if (isArray(v)) for (var i = v.length - 1; i >= 0; i--) pending[pending.length] = v[i];
      else if (v !== null && v !== undefined) note(fname + '() ignored a non-string value of type ' + typeof v);
    }
    return out;
  }

  global.channel = function channel() {
    for (var i = 0; i < arguments.length; i++) collect(arguments[i], st.ch, 'channel');
  };
  global.access = function access(users, channels) {
    st.acc[st.acc.length] = [collect(users, [], 'access'), collect(channels, [], 'access')];
  };
  global.role = function role(users, roles) {
    st.roles[st.roles.length] = [collect(users, [], 'role'), collect(roles, [], 'role')];
  };
  global.expiry = function expiry(value) {
    if (value === null || value === undefined) st.exp = undefined;
    else if (typeof value === 'string' || (typeof value === 'number' && isFinite(value))) st.exp = value;
    else if (value instanceof Date && !isNaN(value.getTime())) st.exp = value.toISOString();
    else note('expiry() ignored an invalid value: ' + describe(value));
  };

  function anyIn(wanted, have) {
    for (var i = 0; i < wanted.length; i++) if (have.indexOf(wanted[i]) >= 0) return true;
    return false;
  }
  global.requireAdmin = function requireAdmin() {
    if (st.user !== null) throw { forbidden: 'sg admin required' };
  };
  global.requireUser = function requireUser(names) {
    if (st.user === null) return;
    if (collect(names, [], 'requireUser').indexOf(st.user.name) < 0) throw { forbidden: 'sg wrong user' };
  };
  global.requireRole = function requireRole(roles) {
    if (st.user === null) return;
    var wanted = collect(roles, [], 'requireRole');
    for (var i = 0; i < wanted.length; i++) if (wanted[i].indexOf('role:') === 0) wanted[i] = wanted[i].slice(5);
    if (!anyIn(wanted, st.user.roles)) throw { forbidden: 'sg missing role' };
  };
  global.requireAccess = function requireAccess(channels) {
    if (st.user === null) return;
    var wanted = collect(channels, [], 'requireAccess');
    var have = st.user.channels;
    if (have.indexOf('*') >= 0 || wanted.indexOf('!') >= 0 || anyIn(wanted, have)) return;
    throw { forbidden: 'sg missing channel access' };
  };

  function rejection(e, out) {
    try {
      if (e !== null && typeof e === 'object') {
        if (e.forbidden !== undefined) return { status: 403, reason: String(e.forbidden) };
        if (e.unauthorized !== undefined) return { status: 401, reason: String(e.unauthorized) };
      }
    } catch (_) {}
    if (isOutOfMemory(e)) out.reset = 1;
    return { status: 500, reason: 'Exception in JS sync function: ' + describe(e) };
  }

  function install(fn) {
    return function run(json) {
      var out = { ch: [], acc: [], roles: [], warn: [] };
      st = { ch: out.ch, acc: out.acc, roles: out.roles, warn: out.warn, user: null, exp: undefined };
      try {
        var input = parse(json);
        st.user = input.user;
        fn(input.doc, input.oldDoc, input.meta);
      } catch (e) {
        out.rej = rejection(e, out);
      }
      if (st.exp !== undefined) out.exp = st.exp;
      st = null;
      return stringify(out);
    };
  }
`;

const FILTER = String.raw`
  function install(fn) {
    return function run(json) {
      try {
        return fn(parse(json)) ? '{"ok":true}' : '{"ok":false}';
      } catch (e) {
        var out = { err: describe(e) };
        if (isOutOfMemory(e)) out.reset = 1;
        return stringify(out);
      }
    };
  }
`;

// Conflict resolvers (server-to-server replication): {ok: <returned value, null for undefined>} or {err, reset?}.
const RESOLVER = String.raw`
  function install(fn) {
    return function run(json) {
      try {
        var r = fn(parse(json));
        return stringify({ ok: r === undefined ? null : r });
      } catch (e) {
        var out = { err: describe(e) };
        if (isOutOfMemory(e)) out.reset = 1;
        return stringify(out);
      }
    };
  }
`;

/** The prelude's source; evaluating it yields `install(fn)`. Must run after underscore, which needs `Function`. */
export function preludeSource(mode: PreludeMode): string {
  return `(function (global) {
  'use strict';
${COMMON}
${mode === 'sync' ? SYNC : mode === 'filter' ? FILTER : RESOLVER}
  lockDown();
  return install;
})(globalThis)`;
}
