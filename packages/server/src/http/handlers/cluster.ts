import type { ImportStatus, NodeStatus } from '../../cluster/import-status.ts';
import type { Handler, Reply, RequestContext } from '../route-types.ts';

/** `GET /{db}/_import/status` (admin API): the bucket's nodes, partition leases, checkpoints and backlog. */
export const importStatusHandler: Handler = async ({ db }) => ({ status: 200, json: await db.importStatus() });

interface ClusterNode extends NodeStatus {
  /** Databases (of this server) whose bucket the node is a member of. */
  databases: string[];
}

/**
 * `GET /_cluster` (admin API): this server's node id and, per database it serves, the cluster summary of the
 * database's bucket; `nodes` merges the nodes seen across those buckets.
 */
export async function clusterHandler({ server }: Pick<RequestContext, 'server'>): Promise<Reply> {
  const databases: Record<string, Omit<ImportStatus, 'node'>> = {};
  const nodes = new Map<string, ClusterNode>();
  for (const name of server.databaseNames()) {
    const db = server.database(name);
    if (db.closed) continue;
    const { node: _self, ...status } = await db.importStatus();
    databases[name] = status;
    for (const node of status.nodes) {
      const known = nodes.get(node.id);
      if (known) {
        known.databases.push(name);
        known.heartbeat_age_ms = Math.min(known.heartbeat_age_ms, node.heartbeat_age_ms);
      } else {
        nodes.set(node.id, { ...node, partitions: [], databases: [name] });
      }
    }
  }
  const list = [...nodes.values()].map(({ partitions: _partitions, ...node }) => node);
  return { status: 200, json: { node: server.uuid, nodes: list, databases } };
}
