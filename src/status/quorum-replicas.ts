import { z } from 'zod';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import { parseJsonOutput } from '../rabbit/cluster-status.js';
import { featureFlagsCommand, listQueueMembersCommand, listVhostsCommand } from '../rabbit/commands.js';
import { FeatureFlags, flagsNotEnabled, metadataStoreName, metadataStoreOf } from '../rabbit/feature-flags.js';
import type { RemoteShell } from '../ssh/session.js';

const Vhosts = z.array(z.object({ name: z.string() }));
/** 4.x list_queues with replicas; `online` is "" for a classic queue (measured on 4.0.5 and 4.3.6). */
export const QueueMembers = z.array(
  z.object({
    name: z.string(),
    type: z.string().optional(),
    members: z.union([z.array(z.string()), z.literal('').transform((): string[] => [])]).default([]),
    online: z.union([z.array(z.string()), z.literal('').transform((): string[] => [])]).default([]),
  }).loose(),
);
export type QueueMembers = z.infer<typeof QueueMembers>;

/** A quorum queue with fewer replicas online than the cluster has nodes. */
export interface UnderReplicatedQueue {
  vhost: string;
  name: string;
  online: string[];
  /** The cluster's nodes that hold no online replica of it. */
  missing: string[];
}

/** Quorum queues whose online replicas are fewer than the cluster's nodes, with the nodes they lack. */
export function underReplicatedQueues(vhost: string, queues: QueueMembers, clusterNodes: readonly string[]): UnderReplicatedQueue[] {
  return queues
    .filter((q) => q.type === 'quorum')
    .map((q) => ({ vhost, name: q.name, online: [...q.online].sort(), missing: clusterNodes.filter((n) => !q.online.includes(n)) }))
    .filter((q) => q.missing.length > 0);
}

/** "quorum queue 'orders' in vhost '/': 2 of 3 replicas online (none on rabbit@lab3)". */
export function describeUnderReplicated(q: UnderReplicatedQueue, clusterSize: number): string {
  return `quorum queue '${q.name}' in vhost '${q.vhost}' is under-replicated: ${q.online.length} of ${clusterSize} replicas online (none on ${q.missing.join(', ')})`;
}

/**
 * What a 4.x node adds to its cluster's health, read on that node: the metadata store, stable
 * feature flags not yet enabled, and quorum queues with fewer online replicas than the cluster
 * has nodes (a problem: one more node down may cost them their quorum).
 */
export async function withQuorumDetails(health: ClusterHealth, shell: RemoteShell): Promise<ClusterHealth> {
  const host = shell.host.name;
  const flags = parseJsonOutput(FeatureFlags, (await shell.run(featureFlagsCommand(), { timeoutMs: 60_000 })).stdout, host, 'list_feature_flags');
  const vhosts = parseJsonOutput(Vhosts, (await shell.run(listVhostsCommand(), { timeoutMs: 60_000 })).stdout, host, 'list_vhosts');
  const underReplicated: UnderReplicatedQueue[] = [];
  for (const vhost of vhosts) {
    const result = await shell.run(listQueueMembersCommand(vhost.name), { timeoutMs: 60_000 });
    underReplicated.push(...underReplicatedQueues(vhost.name, parseJsonOutput(QueueMembers, result.stdout, host, 'list_queues'), health.expected));
  }
  const store = metadataStoreOf(flags);
  const notEnabled = flagsNotEnabled(flags);
  const problems = [
    ...health.problems,
    ...underReplicated.map((q) => describeUnderReplicated(q, health.expected.length)),
  ];
  return {
    ...health,
    // under-replicated queues degrade a cluster that was otherwise healthy (a partition stays a partition)
    headline: health.headline === 'healthy' && underReplicated.length > 0 ? 'degraded' : health.headline,
    metadataStore: metadataStoreName(store),
    featureFlagsNotEnabled: notEnabled,
    underReplicatedQueues: underReplicated,
    problems,
  };
}
