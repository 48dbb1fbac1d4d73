import type { Route } from './route-types.ts';
import * as att from './handlers/attachments.ts';
import * as bulk from './handlers/bulk.ts';
import { changesHandler } from './handlers/changes.ts';
import * as database from './handlers/database.ts';
import * as docs from './handlers/documents.ts';
import * as local from './handlers/local.ts';
import * as principals from './handlers/principals.ts';
import * as session from './handlers/session.ts';
import * as resync from './handlers/resync.ts';
import * as diagnostics from './handlers/diagnostics.ts';
import * as cluster from './handlers/cluster.ts';
import * as replication from './handlers/replication.ts';

/**
 * Every route under /{db}/, in one table. Paths are the segments after the database name: `{doc}` is one
 * document id (a `_design/` id spans two segments), `{attachment*}` the rest of the path.
 */
export const DATABASE_ROUTES: readonly Route[] = [
  { method: 'GET', path: '', handler: database.getDatabase },
  { method: 'HEAD', path: '', handler: database.getDatabase },
  { method: 'POST', path: '', handler: docs.postDocument },
  { method: 'DELETE', path: '', adminOnly: true, handler: database.deleteDatabase },
  { method: 'GET', path: '_config', adminOnly: true, handler: database.getConfig },
  { method: 'PUT', path: '_config', adminOnly: true, handler: database.putConfig },
  { method: 'GET', path: '_compact', adminOnly: true, handler: database.getCompact },
  { method: 'POST', path: '_compact', adminOnly: true, handler: database.compact },
  { method: 'POST', path: '_purge', adminOnly: true, handler: database.purgeDocs },
  { method: 'POST', path: '_offline', adminOnly: true, handler: resync.postOffline },
  { method: 'POST', path: '_online', adminOnly: true, handler: resync.postOnline },
  { method: 'GET', path: '_resync', adminOnly: true, handler: resync.getResync },
  { method: 'POST', path: '_resync', adminOnly: true, handler: resync.postResync },
  { method: 'GET', path: '_sync', adminOnly: true, handler: diagnostics.syncDryRunHandler },
  { method: 'POST', path: '_sync', adminOnly: true, handler: diagnostics.syncDryRunHandler },
  { method: 'GET', path: '_import_filter', adminOnly: true, handler: diagnostics.importFilterDryRunHandler },
  { method: 'POST', path: '_import_filter', adminOnly: true, handler: diagnostics.importFilterDryRunHandler },
  { method: 'GET', path: '_import/status', adminOnly: true, handler: cluster.importStatusHandler },
  { method: 'GET', path: '_replication', adminOnly: true, handler: replication.listReplications },
  { method: 'GET', path: '_replication/{id}', adminOnly: true, handler: replication.getReplication },
  { method: 'PUT', path: '_replication/{id}', adminOnly: true, handler: replication.putReplication },
  { method: 'DELETE', path: '_replication/{id}', adminOnly: true, handler: replication.deleteReplication },
  { method: 'GET', path: '_replicationStatus', adminOnly: true, handler: replication.listReplicationStatus },
  { method: 'GET', path: '_replicationStatus/{id}', adminOnly: true, handler: replication.getReplicationStatus },
  { method: 'PUT', path: '_replicationStatus/{id}', adminOnly: true, handler: replication.putReplicationStatus },
  { method: 'POST', path: '_replicate', adminOnly: true, handler: replication.postDbReplicate },
  { method: 'POST', path: '_ensure_full_commit', handler: database.ensureFullCommit },
  { method: 'GET', path: '_all_docs', handler: bulk.allDocsHandler },
  { method: 'POST', path: '_all_docs', handler: bulk.allDocsHandler },
  { method: 'POST', path: '_bulk_docs', handler: bulk.bulkDocs },
  { method: 'POST', path: '_bulk_get', handler: bulk.bulkGetDocs },
  { method: 'POST', path: '_revs_diff', handler: bulk.revsDiffHandler },
  { method: 'GET', path: '_changes', handler: changesHandler },
  { method: 'POST', path: '_changes', handler: changesHandler },
  { method: 'GET', path: '_session', auth: 'optional', handler: session.getSession },
  { method: 'POST', path: '_session', auth: 'optional', handler: session.postSession },
  { method: 'DELETE', path: '_session', auth: 'optional', handler: session.deleteSession },
  { method: 'GET', path: '_session/{session}', adminOnly: true, handler: session.getSessionById },
  { method: 'DELETE', path: '_session/{session}', adminOnly: true, handler: session.deleteSessionById },
  { method: 'GET', path: '_user', adminOnly: true, handler: principals.listUsers },
  { method: 'POST', path: '_user', adminOnly: true, handler: principals.postUser },
  { method: 'GET', path: '_user/{name}', adminOnly: true, handler: principals.getUser },
  { method: 'PUT', path: '_user/{name}', adminOnly: true, handler: principals.putUser },
  { method: 'DELETE', path: '_user/{name}', adminOnly: true, handler: principals.deleteUser },
  { method: 'DELETE', path: '_user/{name}/_session', adminOnly: true, handler: session.deleteUserSessions },
  { method: 'DELETE', path: '_user/{name}/_session/{session}', adminOnly: true, handler: session.deleteUserSession },
  { method: 'GET', path: '_role', adminOnly: true, handler: principals.listRoles },
  { method: 'POST', path: '_role', adminOnly: true, handler: principals.postRole },
  { method: 'GET', path: '_role/{name}', adminOnly: true, handler: principals.getRole },
  { method: 'PUT', path: '_role/{name}', adminOnly: true, handler: principals.putRole },
  { method: 'DELETE', path: '_role/{name}', adminOnly: true, handler: principals.deleteRole },
  { method: 'GET', path: '_local/{local}', handler: local.getLocalDoc },
  { method: 'PUT', path: '_local/{local}', handler: local.putLocalDoc },
  { method: 'DELETE', path: '_local/{local}', handler: local.deleteLocalDoc },
  { method: 'GET', path: '{doc}', handler: docs.getDocument },
  { method: 'HEAD', path: '{doc}', handler: docs.getDocument },
  { method: 'PUT', path: '{doc}', handler: docs.putDocument },
  { method: 'DELETE', path: '{doc}', handler: docs.deleteDocument },
  // Before the attachment routes; on the public API it serves the attachment named `_all_channels`.
  { method: 'GET', path: '{doc}/_all_channels', handler: diagnostics.docAllChannelsHandler },
  { method: 'GET', path: '{doc}/{attachment*}', handler: att.getAttachmentHandler },
  { method: 'HEAD', path: '{doc}/{attachment*}', handler: att.getAttachmentHandler },
  { method: 'PUT', path: '{doc}/{attachment*}', handler: att.putAttachmentHandler },
  { method: 'DELETE', path: '{doc}/{attachment*}', handler: att.deleteAttachmentHandler },
];

export interface RouteMatch {
  /** Routes whose path matched, whatever their method (for 405). */
  candidates: Route[];
  params: Record<string, string>;
}

function matchPath(pattern: string, segments: string[]): Record<string, string> | null {
  const parts = pattern === '' ? [] : pattern.split('/');
  const params: Record<string, string> = {};
  let i = 0;
  for (const part of parts) {
    if (part.endsWith('*}')) {
      if (i >= segments.length) return null;
      params[part.slice(1, -2)] = segments.slice(i).join('/');
      return params;
    }
    const segment = segments[i++];
    if (segment === undefined) return null;
    if (part.startsWith('{')) {
      const name = part.slice(1, -1);
      if (name === 'doc' && segment.startsWith('_')) return null;
      params[name] = segment;
    } else if (part !== segment) {
      return null;
    }
  }
  return i === segments.length ? params : null;
}

/** Finds the routes for the segments after the database name. `_design/x` is folded into one document id. */
export function matchDatabaseRoute(rawSegments: string[]): RouteMatch {
  let segments = rawSegments;
  let designId: string | undefined;
  if (segments[0] === '_design' && segments.length >= 2) {
    designId = `_design/${segments[1]!}`;
    segments = ['\u0000doc', ...segments.slice(2)];
  }
  const candidates: Route[] = [];
  let params: Record<string, string> = {};
  for (const route of DATABASE_ROUTES) {
    const found = matchPath(route.path, designId ? segments.map((s) => (s === '\u0000doc' ? 'x' : s)) : segments);
    if (!found) continue;
    if (designId && !route.path.startsWith('{doc}')) continue;
    if (designId) found.doc = designId;
    // Paths of different shapes can match ({doc}/_all_channels and {doc}/{attachment*}): keep every capture.
    params = { ...found, ...params };
    candidates.push(route);
  }
  return { candidates, params };
}
