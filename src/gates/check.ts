import { nodeNameOf, resolveCluster } from '../config/load.js';
import type { ResolvedCluster } from '../config/load.js';
import type { Host, WarrenConfig } from '../config/schema.js';
import { toWarrenError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { evaluateHealth } from '../rabbit/cluster-status.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import { metadataStoreOfStatus } from '../rabbit/metadata-store.js';
import { flagsToEnable } from '../rabbit/feature-flags.js';
import { countQueues, membersOf, readFeatureFlags, readNodeStatus, readQuorumVerdict } from '../rabbit/queries.js';
import { readMigrationFacts } from '../rabbit/migration-queries.js';
import { buildMigrationPlan } from '../rabbit/quorum-migration.js';
import { isMigrationOperation } from './migration.js';
import { SshSessionPool } from '../ssh/session.js';
import type { Shells } from '../ssh/session.js';
import { NO_OVERRIDES } from '../state/membership.js';
import { assertTarget, evaluateGates } from './evaluate.js';
import type { GateFacts, GateNode, NodeReach } from './evaluate.js';
import type { CheckSafetyGates, GateRequest } from './schema.js';
import type { DestructiveOperation } from './schema.js';

/** How one node answers cluster_status; SSH failures (refused, timeout, wrong key) are 'unreachable'. */
async function readNode(
  shells: Shells,
  host: Host,
  logger?: Logger,
): Promise<{ reach: NodeReach; status?: ClusterStatus }> {
  try {
    const status = await readNodeStatus(shells, host, { timeoutMs: 90_000 });
    return typeof status === 'string' ? { reach: status } : { reach: 'running', status };
  } catch (thrown) {
    const error = toWarrenError(thrown);
    if (!error.code.startsWith('ssh.') && error.code !== 'command.timeout') throw error;
    logger?.info({ host: host.name, code: error.code }, 'gates: node unreachable');
    return { reach: 'unreachable' };
  }
}

/**
 * Reads what the gates judge, read-only: every member's own cluster_status (in parallel), the
 * cluster's view from the first running member (seed first), and for the target its quorum
 * verdict (reset/remove) or its membership and queues (add). `members` excludes an add's target.
 */
export async function readGateFacts(
  shells: Shells,
  request: { operation: DestructiveOperation; cluster: string },
  members: ResolvedCluster,
  target?: Host,
  logger?: Logger,
): Promise<GateFacts> {
  const order = [members.seed, ...members.joiners];
  const read = await Promise.all(order.map((host) => readNode(shells, host, logger)));
  const nodes: GateNode[] = order.map((host, i) => {
    const own = read[i];
    return {
      host: host.name,
      nodeName: nodeNameOf(host),
      reach: own.reach,
      ...(own.status ? { ownMembers: membersOf(own.status) } : {}),
    };
  });
  const viewIndex = read.findIndex((r) => r.status !== undefined);
  const viewStatus = read[viewIndex]?.status;
  const view = viewStatus
    ? { readFrom: order[viewIndex].name, disk: viewStatus.disk_nodes, running: viewStatus.running_nodes }
    : undefined;
  const facts: GateFacts = {
    operation: request.operation,
    cluster: request.cluster,
    members: nodes,
    ...(view ? { view } : {}),
    ...(viewStatus ? { store: metadataStoreOfStatus(viewStatus) } : {}),
  };
  if (request.operation === 'cluster.restart') {
    if (viewStatus) {
      const expected = new Map(order.map((host) => [nodeNameOf(host), host.name]));
      facts.health = evaluateHealth(request.cluster, viewStatus, expected, order[viewIndex].name);
    }
    return facts;
  }
  if (request.operation === 'cluster.teardown') {
    if (viewStatus) facts.clusterQueues = await countQueues(shells, order[viewIndex]);
    return facts;
  }
  if (isMigrationOperation(request.operation)) {
    if (viewStatus)
      facts.migration = buildMigrationPlan(
        await readMigrationFacts(shells, order[viewIndex], request.cluster, viewStatus, {
          // a delete judges queues only
          policies: request.operation === 'cluster.migrate-to-quorum',
          queues: true,
        }),
      );
    return facts;
  }
  if (request.operation === 'feature-flags.enable') {
    const flags = viewStatus ? await readFeatureFlags(shells, order[viewIndex], { timeoutMs: 90_000 }) : undefined;
    if (flags) facts.flagsToEnable = flagsToEnable(flags);
    return facts;
  }
  if (!target) return facts;
  if (request.operation === 'node.add') {
    const own = await readNode(shells, target, logger);
    const queues = own.reach === 'running' ? await countQueues(shells, target) : undefined;
    facts.target = {
      host: target.name,
      nodeName: nodeNameOf(target),
      reach: own.reach,
      ...(own.status ? { ownMembers: membersOf(own.status) } : {}),
      ...(queues === undefined ? {} : { queues }),
    };
    return facts;
  }
  const known = nodes.find((n) => n.host === target.name) ?? {
    host: target.name,
    nodeName: nodeNameOf(target),
    reach: (await readNode(shells, target, logger)).reach,
  };
  const version = viewStatus?.versions?.[known.nodeName]?.rabbitmq_version;
  const quorum =
    known.reach === 'running' ? await readQuorumVerdict(shells, target, version, { timeoutMs: 90_000 }) : 'not-asked';
  facts.target = { ...known, quorum };
  return facts;
}

/** The members to judge: an add's target is not one yet. */
export function membersForGates(
  cluster: ResolvedCluster,
  operation: DestructiveOperation,
  target?: Host,
): ResolvedCluster {
  if (operation !== 'node.add' || !target) return cluster;
  const hosts = cluster.hosts.filter((h) => h.name !== target.name);
  return { ...cluster, hosts, joiners: hosts.filter((h) => h.name !== cluster.seed.name) };
}

/**
 * The gates of one request, read over SSH (read-only) from the cluster as node.add/node.remove
 * left it (`membership`: the caller reads it with the connection it already has).
 * 'cluster.busy' is the caller's. Throws node.unknown for a node the operation cannot act on.
 */
export const checkSafetyGates: CheckSafetyGates = async (config: WarrenConfig, request: GateRequest, options = {}) => {
  const cluster = resolveCluster(config, request.cluster, options.membership ?? NO_OVERRIDES);
  assertTarget(
    request.operation,
    request.cluster,
    request.node,
    cluster.hosts.map((h) => h.name),
    config.hosts.map((h) => h.name),
  );
  const target = request.node === undefined ? undefined : config.hosts.find((h) => h.name === request.node);
  const hosts = target && !cluster.hosts.includes(target) ? [...cluster.hosts, target] : cluster.hosts;
  const pool = new SshSessionPool(hosts, config.ssh, options.logger ? { logger: options.logger } : {});
  try {
    const facts = await readGateFacts(pool, request, cluster, target, options.logger);
    return evaluateGates(facts, request.node);
  } finally {
    await pool.close();
  }
};
