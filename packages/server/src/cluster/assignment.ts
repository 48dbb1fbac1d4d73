/**
 * Which import node should own which mutation-log partition. A pure function of the live import nodes, so that
 * every node computes the same answer from the same membership without talking to the others: partition p goes
 * to the (p mod n)-th node in id order. Ownership itself is only ever taken through a lease (partition-leases.ts);
 * while membership views differ for a moment, a partition simply stays with its current holder until its lease
 * is released or expires.
 */
export function assignPartitions(nodeIds: readonly string[], partitions: number): Array<string | null> {
  const nodes = [...new Set(nodeIds)].sort();
  return Array.from({ length: partitions }, (_, p) => (nodes.length === 0 ? null : nodes[p % nodes.length]!));
}

/** The partitions `nodeId` should own among `nodeIds` (none when it is not one of them). */
export function desiredPartitions(nodeId: string, nodeIds: readonly string[], partitions: number): number[] {
  const owners = assignPartitions(nodeIds, partitions);
  const mine: number[] = [];
  owners.forEach((owner, p) => {
    if (owner === nodeId) mine.push(p);
  });
  return mine;
}
