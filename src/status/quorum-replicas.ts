import type { Host } from '../config/schema.js';
import { WarrenError } from '../errors.js';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import { flagsNotEnabled, metadataStoreName, metadataStoreOf } from '../rabbit/feature-flags.js';
import { readFeatureFlags } from '../rabbit/queries.js';
import { describeUnderReplicated, readQueueMembers, underReplicatedQueues } from '../rabbit/quorum-queues.js';
import type { UnderReplicatedQueue } from '../rabbit/quorum-queues.js';
import type { Shells } from '../ssh/session.js';

/**
 * What a 4.x node adds to its cluster's health, read on that node: the metadata store, stable
 * feature flags not yet enabled, and quorum queues with fewer online replicas than the cluster
 * has nodes (a problem: one more node down may cost them their quorum).
 */
export async function withQuorumDetails(health: ClusterHealth, shells: Shells, host: Host): Promise<ClusterHealth> {
  const flags = await readFeatureFlags(shells, host, { timeoutMs: 60_000 });
  if (!flags)
    throw new WarrenError(
      'status.unreachable',
      `RabbitMQ on ${host.name} stopped answering after its cluster_status (list_feature_flags)`,
      { host: host.name, retryable: true },
    );
  const underReplicated: UnderReplicatedQueue[] = (
    await readQueueMembers(shells, host, { columns: 'members-online', timeoutMs: 60_000 })
  ).flatMap(({ vhost, queues }) => underReplicatedQueues(vhost, queues, health.expected));
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
