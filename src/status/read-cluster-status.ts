import { nodeNameOf, resolveCluster } from '../config/load.js';
import type { MembershipChanges } from '../config/load.js';
import type { WarrenConfig } from '../config/schema.js';
import { toWarrenError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { evaluateHealth, parseClusterStatus, unreachableHealth } from '../rabbit/cluster-status.js';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import { clusterStatusCommand } from '../rabbit/commands.js';
import { SshSessionPool } from '../ssh/session.js';
import type { CommandObserver } from '../ssh/session.js';
import { compareVersions } from '../steps/step.js';
import { expectedNodes } from '../steps/verify.js';
import { withQuorumDetails } from './quorum-replicas.js';

export interface ReadStatusOptions {
  logger?: Logger;
  observer?: CommandObserver;
  env?: NodeJS.ProcessEnv;
  /** What node.add/node.remove changed (src/state/membership.ts); without it, the config's nodes. */
  membership?: MembershipChanges;
}

/**
 * A cluster's health, read from the seed, or from the next node that answers when the seed is
 * down. Read-only: it needs no lock and runs beside any operation.
 */
export async function readClusterStatus(config: WarrenConfig, clusterName: string, options: ReadStatusOptions = {}): Promise<ClusterHealth> {
  const cluster = resolveCluster(config, clusterName, options.membership);
  const expected = expectedNodes({ cluster });
  const order = [cluster.seed, ...cluster.joiners];
  const pool = new SshSessionPool(cluster.hosts, config.ssh, {
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  const reasons: string[] = [];
  try {
    for (const host of order) {
      try {
        const shell = await pool.shell(host.name);
        const result = await shell.run(clusterStatusCommand(), { timeoutMs: 90_000 });
        const status = parseClusterStatus(result.stdout, host.name);
        const health = evaluateHealth(cluster.cluster.name, status, expected, host.name);
        const version = status.versions?.[nodeNameOf(host)]?.rabbitmq_version;
        if (!version || compareVersions(version, '4.0') < 0) return health;
        // 4.x: metadata store, feature flags, quorum queue replicas; a node that answered
        // cluster_status but not these still gives the cluster's health, with the reason
        return await withQuorumDetails(health, shell).catch((thrown: unknown) => ({
          ...health,
          problems: [...health.problems, `quorum queue replicas not read on ${host.name}: ${toWarrenError(thrown).message}`],
        }));
      } catch (thrown) {
        const error = toWarrenError(thrown);
        reasons.push(`${host.name}: ${error.message}`);
        options.logger?.info({ host: host.name, code: error.code }, 'status: node did not answer, trying the next');
      }
    }
    return unreachableHealth(cluster.cluster.name, expected, reasons);
  } finally {
    await pool.close();
  }
}
