import { describe, expect, it } from 'vitest';
import { isSynclineError } from '../base/errors.ts';
import { DATABASE_ROUTES } from '../http/routes.ts';
import {
  blipProfileAccess,
  checkBlipClientSync,
  checkBlipRequestClientSync,
  checkRestClientSync,
  clientSyncPolicy,
  clientSyncRefusal,
  restRouteAccess,
  type ClientSyncSetting,
} from './client-sync.ts';

const statusOf = (fn: () => void): number | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (isSynclineError(err)) return err.status;
    throw err;
  }
};

describe('enable_client_sync policy', () => {
  it.each<[ClientSyncSetting, boolean, boolean]>([
    [undefined, true, true],
    [true, true, true],
    ['bidirectional', true, true],
    ['pull', true, false],
    ['push', false, true],
    [false, false, false],
  ])('%j allows read=%j write=%j', (setting, read, write) => {
    expect(clientSyncPolicy(setting)).toEqual({ read, write });
    expect(clientSyncRefusal(setting, 'read') === undefined).toBe(read);
    expect(clientSyncRefusal(setting, 'write') === undefined).toBe(write);
    expect(clientSyncRefusal(setting, undefined)).toBeUndefined();
  });

  it('classifies the REST routes that read or write documents', () => {
    expect(restRouteAccess('GET', '{doc}')).toBe('read');
    expect(restRouteAccess('HEAD', '{doc}')).toBe('read');
    expect(restRouteAccess('PUT', '{doc}')).toBe('write');
    expect(restRouteAccess('DELETE', '{doc}')).toBe('write');
    expect(restRouteAccess('POST', '')).toBe('write');
    expect(restRouteAccess('GET', '')).toBeUndefined();
    expect(restRouteAccess('POST', '_bulk_docs')).toBe('write');
    expect(restRouteAccess('POST', '_bulk_get')).toBe('read');
    expect(restRouteAccess('GET', '_changes')).toBe('read');
    expect(restRouteAccess('POST', '_changes')).toBe('read');
    expect(restRouteAccess('POST', '_all_docs')).toBe('read');
    expect(restRouteAccess('GET', '{doc}/{attachment*}')).toBe('read');
    expect(restRouteAccess('PUT', '{doc}/{attachment*}')).toBe('write');
    expect(restRouteAccess('DELETE', '{doc}/{attachment*}')).toBe('write');
    // Needed by every mode: database info, login, checkpoints, revs_diff.
    for (const path of ['_session', '_local/{local}', '_revs_diff', '_ensure_full_commit']) expect(restRouteAccess('POST', path)).toBeUndefined();
  });

  it('knows every public document route of the route table', () => {
    const classified = DATABASE_ROUTES.filter((r) => !r.adminOnly && restRouteAccess(r.method, r.path) !== undefined).map((r) => `${r.method} ${r.path}`);
    expect(classified.sort()).toEqual(
      [
        'POST ',
        'GET _all_docs',
        'POST _all_docs',
        'POST _bulk_docs',
        'POST _bulk_get',
        'GET _changes',
        'POST _changes',
        'GET {doc}',
        'HEAD {doc}',
        'PUT {doc}',
        'DELETE {doc}',
        'GET {doc}/_all_channels',
        'GET {doc}/{attachment*}',
        'HEAD {doc}/{attachment*}',
        'PUT {doc}/{attachment*}',
        'DELETE {doc}/{attachment*}',
      ].sort(),
    );
  });

  it('refuses with 403 on REST and BLIP', () => {
    expect(statusOf(() => checkRestClientSync('pull', 'PUT', '{doc}'))).toBe(403);
    expect(statusOf(() => checkRestClientSync('pull', 'GET', '{doc}'))).toBeUndefined();
    expect(statusOf(() => checkRestClientSync('push', 'GET', '_changes'))).toBe(403);
    expect(statusOf(() => checkRestClientSync(false, 'GET', ''))).toBeUndefined();
    expect(statusOf(() => checkBlipClientSync(false))).toBe(403);
    expect(statusOf(() => checkBlipClientSync('pull'))).toBeUndefined();
    expect(statusOf(() => checkBlipRequestClientSync('pull', 'proposeChanges'))).toBe(403);
    expect(statusOf(() => checkBlipRequestClientSync('pull', 'rev'))).toBe(403);
    expect(statusOf(() => checkBlipRequestClientSync('pull', 'subChanges'))).toBeUndefined();
    expect(statusOf(() => checkBlipRequestClientSync('push', 'subChanges'))).toBe(403);
    expect(statusOf(() => checkBlipRequestClientSync('push', 'getCheckpoint'))).toBeUndefined();
  });

  it('classifies BLIP profiles: subChanges reads, the push profiles write', () => {
    expect(blipProfileAccess('subChanges')).toBe('read');
    for (const p of ['proposeChanges', 'changes', 'rev']) expect(blipProfileAccess(p)).toBe('write');
    for (const p of ['getCheckpoint', 'setCheckpoint', 'getAttachment', 'unsubChanges', undefined]) expect(blipProfileAccess(p)).toBeUndefined();
  });

  it('explains the refusal with the setting', () => {
    expect(clientSyncRefusal('pull', 'write')).toMatch(/may not write.*enable_client_sync: "pull"/);
    expect(clientSyncRefusal('push', 'read')).toMatch(/may not read.*enable_client_sync: "push"/);
    expect(clientSyncRefusal(false, 'read')).toMatch(/disabled.*enable_client_sync: false/);
  });
});
