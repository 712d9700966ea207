import { nodeNameOf, resolveCluster } from '../config/load.js';
import type { MembershipChanges, ResolvedCluster } from '../config/load.js';
import type { Host, WarrenConfig } from '../config/schema.js';
import { toWarrenError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { flagsNotEnabled } from '../rabbit/feature-flags.js';
import type { MirroringPolicy } from '../rabbit/policies.js';
import {
  readDeprecatedFeaturesInUse,
  readFeatureFlags,
  readMirroringPolicies,
  readNodeStatus,
} from '../rabbit/queries.js';
import { readQueueMembers, underReplicatedQueues } from '../rabbit/quorum-queues.js';
import type { UnderReplicatedQueue } from '../rabbit/quorum-queues.js';
import { judgeUpgrade } from '../rabbit/upgrade-path.js';
import type { NodeReading, UpgradeVerdict } from '../rabbit/upgrade-path.js';
import { SshSessionPool } from '../ssh/session.js';
import type { CommandObserver, Shells } from '../ssh/session.js';

/** Each question's bound: every node is read at once, so a silent node costs this, not N times it. */
const QUESTION_TIMEOUT_MS = 60_000;

/** The upgrade-readiness report card's content: what each node said, what the cluster holds, the verdict. */
export interface UpgradeReport {
  cluster: string;
  /** `--to` as asked; absent: the next series. */
  target?: string;
  nodes: NodeReading[];
  mirroringPolicies: MirroringPolicy[];
  underReplicated: UnderReplicatedQueue[];
  /** Cluster-wide questions (policies, queues) that could not be asked, and why. */
  notRead: string[];
  verdict: UpgradeVerdict;
}

export interface ReadUpgradeOptions {
  logger?: Logger;
  observer?: CommandObserver;
  env?: NodeJS.ProcessEnv;
  membership?: MembershipChanges;
  target?: string;
}

/**
 * Reads what an upgrade depends on from every node of the cluster, side by side, and judges it.
 * Read-only, like status: no lock, no job, beside any operation. Per node: its own cluster_status
 * (its version, Erlang, alarms), its feature flags and the deprecated features it sees in use;
 * once, on the first node that answered: the mirroring policies and quorum queue replicas.
 */
export async function readUpgradeReadiness(
  config: WarrenConfig,
  clusterName: string,
  options: ReadUpgradeOptions = {},
): Promise<UpgradeReport> {
  const cluster = resolveCluster(config, clusterName, options.membership);
  const pool = new SshSessionPool(cluster.hosts, config.ssh, {
    ...(options.observer ? { observer: options.observer } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  try {
    return await readUpgradeFacts(pool, cluster, options.target);
  } finally {
    await pool.close();
  }
}

/** The reading and judgement over given shells (the pool above; a recording fake in tests). */
export async function readUpgradeFacts(
  shells: Shells,
  cluster: ResolvedCluster,
  target?: string,
): Promise<UpgradeReport> {
  const hosts = [cluster.seed, ...cluster.joiners];
  const nodes = await Promise.all(hosts.map((host) => readNode(shells, host)));
  const expected = hosts.map(nodeNameOf);
  const notRead: string[] = [];
  let mirroring: MirroringPolicy[] = [];
  let underReplicated: UnderReplicatedQueue[] = [];
  const reader = hosts.find((_, k) => nodes[k].unreadable === undefined);
  if (reader) {
    try {
      mirroring = await readMirroringPolicies(shells, reader, { timeoutMs: QUESTION_TIMEOUT_MS });
    } catch (thrown) {
      notRead.push(`mirroring policies not read on ${reader.name}: ${toWarrenError(thrown).message}`);
    }
    try {
      underReplicated = (
        await readQueueMembers(shells, reader, { columns: 'members-online', timeoutMs: QUESTION_TIMEOUT_MS })
      ).flatMap(({ vhost, queues }) => underReplicatedQueues(vhost, queues, expected));
    } catch (thrown) {
      notRead.push(`quorum queue replicas not read on ${reader.name}: ${toWarrenError(thrown).message}`);
    }
  } else {
    notRead.push('no node answered: mirroring policies and quorum queues not read');
  }
  const verdict = judgeUpgrade({ nodes, mirroringPolicies: mirroring, underReplicated }, target);
  // what could not be read cannot be judged ready
  const judged: UpgradeVerdict =
    notRead.length > 0
      ? {
          ...verdict,
          ready: false,
          blockers: [
            ...verdict.blockers,
            ...notRead.map((what) => ({
              kind: 'unreadable' as const,
              what,
              fix: 'check the node answers (`warren status`) and ask again',
            })),
          ],
        }
      : verdict;
  return {
    cluster: cluster.cluster.name,
    ...(target === undefined ? {} : { target: target }),
    nodes,
    mirroringPolicies: mirroring,
    underReplicated,
    notRead,
    verdict: judged,
  };
}

/** One node's own answers; a node that cannot answer is a reading with the reason, never a throw. */
async function readNode(shells: Shells, host: Host): Promise<NodeReading> {
  const node = nodeNameOf(host);
  const unreadable = (reason: string): NodeReading => ({
    node,
    host: host.name,
    flagsNotEnabled: [],
    deprecatedInUse: [],
    alarms: [],
    unreadable: reason,
  });
  try {
    const status = await readNodeStatus(shells, host, { timeoutMs: QUESTION_TIMEOUT_MS });
    if (typeof status === 'string')
      return unreadable(
        status === 'vm-down' ? 'RabbitMQ is not running (no Erlang VM)' : 'the RabbitMQ app is stopped',
      );
    const version = status.versions && Object.hasOwn(status.versions, node) ? status.versions[node] : undefined;
    const rabbitmqVersion = version?.rabbitmq_version;
    const flags = await readFeatureFlags(shells, host, { timeoutMs: QUESTION_TIMEOUT_MS });
    if (!flags) return unreadable('RabbitMQ stopped answering (list_feature_flags)');
    const deprecated = await readDeprecatedFeaturesInUse(shells, host, rabbitmqVersion, {
      timeoutMs: QUESTION_TIMEOUT_MS,
    });
    if (deprecated === undefined) return unreadable('RabbitMQ stopped answering (list_deprecated_features)');
    const alarms = status.alarms.flatMap((a) =>
      typeof a === 'string' ? [a] : a.node === node ? [a.resource ?? a.type ?? 'alarm'] : [],
    );
    return {
      node,
      host: host.name,
      ...(rabbitmqVersion ? { rabbitmqVersion } : {}),
      ...(version?.erlang_version ? { erlangVersion: version.erlang_version } : {}),
      flagsNotEnabled: flagsNotEnabled(flags),
      deprecatedInUse: deprecated,
      alarms,
    };
  } catch (thrown) {
    return unreadable(toWarrenError(thrown).message);
  }
}
