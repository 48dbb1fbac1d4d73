import type { Conflict, ConflictResolution, JsonObject } from '@syncline/client';
import { compileSandbox } from '../../channels/sync-function.ts';
import type { Sandbox } from '../../channels/sandbox.ts';

/** A conflict document as Sync Gateway's resolvers see it: the body with `_id`, `_rev`, `_deleted`. */
function asSgDocument(docId: string, revId: string, body: JsonObject, deleted: boolean): JsonObject {
  return { ...body, _id: docId, _rev: revId, ...(deleted ? { _deleted: true } : {}) };
}

const stripSpecial = (doc: JsonObject): JsonObject => {
  const { _id: _i, _rev: _r, _deleted: _d, _revisions: _v, ...rest } = doc;
  return rest;
};

/** Deep equality of JSON values (key order ignored). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson((a as JsonObject)[k], (b as JsonObject)[k]));
}

/**
 * A `custom_conflict_resolver`: `function (conflict) {...}` run in the QuickJS sandbox with a time limit, given
 * `{Id, LocalDocument, RemoteDocument}` as Sync Gateway does, returning the winning body (null or undefined: a
 * deletion). A result equal to one side keeps that side; anything else becomes a new revision. An exception or
 * timeout is an error for that document (it stays in conflict locally and is retried on the next change).
 */
export class CustomResolver {
  readonly #sandbox: Sandbox;

  private constructor(sandbox: Sandbox) {
    this.#sandbox = sandbox;
  }

  /** Throws (naming the line) when the source does not compile. */
  static compile(source: string, opts: { name: string; timeoutMs?: number }): CustomResolver {
    return new CustomResolver(
      compileSandbox('conflict resolver', opts.name, { source, mode: 'resolver', fileName: 'conflict-resolver.js', timeoutMs: opts.timeoutMs ?? 1000 }),
    );
  }

  resolve(conflict: Conflict): ConflictResolution {
    const local = asSgDocument(conflict.docId, conflict.local.revId, conflict.local.body, conflict.local.deleted);
    const remote = asSgDocument(conflict.docId, conflict.remote.revId, conflict.remote.body, conflict.remote.deleted);
    const outcome = this.#sandbox.call(JSON.stringify({ Id: conflict.docId, LocalDocument: local, RemoteDocument: remote }));
    if (!outcome.ok) throw new Error(`custom conflict resolver failed for "${conflict.docId}": ${outcome.timedOut ? 'timed out' : outcome.message}`);
    const answer = JSON.parse(outcome.output) as { ok?: unknown; err?: unknown; reset?: unknown };
    if (answer.reset === 1) this.#sandbox.recycle();
    if (!('ok' in answer)) throw new Error(`custom conflict resolver threw for "${conflict.docId}": ${String(answer.err)}`);
    const result = answer.ok;
    if (result === null) return { body: {}, deleted: true };
    if (typeof result !== 'object' || Array.isArray(result)) throw new Error(`custom conflict resolver for "${conflict.docId}" returned neither an object nor null`);
    const doc = result as JsonObject;
    if (doc._deleted === true) return { body: {}, deleted: true };
    const body = stripSpecial(doc);
    if (!conflict.remote.deleted && sameJson(body, stripSpecial(remote))) return 'remote';
    if (!conflict.local.deleted && sameJson(body, stripSpecial(local))) return 'local';
    return { body, deleted: false };
  }

  dispose(): void {
    this.#sandbox.dispose();
  }
}
