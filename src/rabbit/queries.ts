import { z } from 'zod';
import type { Host } from '../config/schema.js';
import type { Shells } from '../ssh/session.js';
import { parseClusterStatus, parseJsonOutput } from './cluster-status.js';
import type { ClusterStatus } from './cluster-status.js';
import {
  clusterStatusCommand,
  deprecatedFeaturesUsedCommand,
  featureFlagsCommand,
  listPoliciesCommand,
  listQueuesCommand,
  listVhostsCommand,
  quorumCriticalCommand,
} from './commands.js';
import { DeprecatedFeatures, hasDeprecatedFeatures } from './deprecated-features.js';
import { FeatureFlags } from './feature-flags.js';
import { Policies, mirroringPolicies } from './policies.js';
import type { MirroringPolicy } from './policies.js';
import { compareVersions } from './version.js';

/**
 * The read-only questions steps, gates and status ask a node, each asked and judged one way here:
 * the exit codes that are answers, the schema of the output, its bounds. Each takes the job's (or
 * the reading's) shells and opens the host's shell itself, so a failed connect fails the question.
 */

/** How long a question waits by default; callers that read many nodes at once pass less. */
const DEFAULT_QUERY_TIMEOUT_MS = 120_000;

/**
 * A node's cluster_status, or why it has none: no Erlang VM ('vm-down'), or a VM without the rabbit app
 * ('app-stopped').
 */
export type NodeStatus = ClusterStatus | 'vm-down' | 'app-stopped';

/**
 * The node's cluster_status; 'vm-down' when no Erlang VM runs (exit 69), 'app-stopped' when the VM
 * runs without the rabbit app (exit 64: the CLI refuses cluster_status then, as seen on 3.10.8).
 * Any other exit is a failed command (command.failed, with its evidence).
 */
export async function readNodeStatus(
  shells: Shells,
  host: Host,
  options: { timeoutMs?: number } = {},
): Promise<NodeStatus> {
  const shell = await shells.shell(host.name);
  const result = await shell.run(clusterStatusCommand(), {
    timeoutMs: options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    okExitCodes: [64, 69],
  });
  if (result.code === 69) return 'vm-down';
  if (result.code === 64) return 'app-stopped';
  return parseClusterStatus(result.stdout, host.name);
}

/** The members a node's cluster_status lists (disk and RAM). */
export function membersOf(status: ClusterStatus): string[] {
  return [...status.disk_nodes, ...(status.ram_nodes ?? [])];
}

/** A node has at most this many vhosts in what warren reads: more is a broken or hostile host. */
const Vhosts = z.array(z.object({ name: z.string() })).max(10_000);
const QueueNames = z.array(z.object({ name: z.string() }));

/** The node's vhost names (`list_vhosts name`). */
export async function listVhosts(shells: Shells, host: Host, options: { timeoutMs?: number } = {}): Promise<string[]> {
  const shell = await shells.shell(host.name);
  const result = await shell.run(
    listVhostsCommand(),
    options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
  );
  return parseJsonOutput(Vhosts, result.stdout, host.name, 'list_vhosts').map((v) => v.name);
}

/** The queue names of one vhost (`list_queues name`). */
export async function listQueueNames(shells: Shells, host: Host, vhost: string): Promise<string[]> {
  const shell = await shells.shell(host.name);
  return parseJsonOutput(QueueNames, (await shell.run(listQueuesCommand(vhost))).stdout, host.name, 'list_queues').map(
    (q) => q.name,
  );
}

/** How many queues the node lists across its vhosts (on a cluster member: the whole cluster's). */
export async function countQueues(shells: Shells, host: Host): Promise<number> {
  let total = 0;
  for (const vhost of await listVhosts(shells, host)) total += (await listQueueNames(shells, host, vhost)).length;
  return total;
}

/**
 * The node's feature flags; undefined when the node cannot answer because RabbitMQ is not running
 * there (exit 64 app stopped, 69 no VM, 70 not booted).
 */
export async function readFeatureFlags(
  shells: Shells,
  host: Host,
  options: { timeoutMs?: number } = {},
): Promise<FeatureFlags | undefined> {
  const shell = await shells.shell(host.name);
  const result = await shell.run(featureFlagsCommand(), {
    okExitCodes: [64, 69, 70],
    timeoutMs: options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
  });
  if (result.code !== 0) return undefined;
  return parseJsonOutput(FeatureFlags, result.stdout, host.name, 'list_feature_flags');
}

/**
 * Whether stopping a node costs a quorum queue its quorum: not critical, critical (with the queues),
 * 'unsupported' before 3.8 (no such command), 'not-asked' when the node does not run (it holds no
 * votes now) or its answer cannot be read.
 */
export type QuorumVerdict = { critical: false } | { critical: true; queues: string[] } | 'unsupported' | 'not-asked';

const QuorumCritical = z
  .object({
    result: z.string(),
    queues: z.array(z.object({ readable_name: z.string().optional(), name: z.string() }).loose()).optional(),
  })
  .loose();

/** Asks the node itself; exit 69 is "critical" only when the JSON says so (69 also means "node down"). */
export async function readQuorumVerdict(
  shells: Shells,
  host: Host,
  version: string | undefined,
  options: { timeoutMs?: number } = {},
): Promise<QuorumVerdict> {
  if (version !== undefined && compareVersions(version, '3.8') < 0) return 'unsupported';
  const shell = await shells.shell(host.name);
  const result = await shell.run(quorumCriticalCommand(), {
    okExitCodes: [64, 69],
    timeoutMs: options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
  });
  if (result.code === 0) return { critical: false };
  if (result.code === 64) return 'not-asked';
  let parsed: z.infer<typeof QuorumCritical> | undefined;
  try {
    parsed = QuorumCritical.parse(JSON.parse(result.stderr.trim() || result.stdout.trim()));
  } catch {
    return 'not-asked';
  }
  return parsed.result === 'error'
    ? { critical: true, queues: (parsed.queues ?? []).map((q) => q.readable_name ?? q.name) }
    : { critical: false };
}

/**
 * The names of the deprecated features the node sees in use; 'unsupported' before 3.13 (no such
 * command: 3.10.8 exits 64 "not found"), undefined when RabbitMQ does not run there (exit 69).
 */
export async function readDeprecatedFeaturesInUse(
  shells: Shells,
  host: Host,
  version: string | undefined,
  options: { timeoutMs?: number } = {},
): Promise<string[] | 'unsupported' | undefined> {
  if (!hasDeprecatedFeatures(version)) return 'unsupported';
  const shell = await shells.shell(host.name);
  const result = await shell.run(deprecatedFeaturesUsedCommand(), {
    okExitCodes: [64, 69],
    timeoutMs: options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
  });
  if (result.code === 69) return undefined;
  // 64 is also "app stopped": only the CLI's own "not found" means the version lacks it
  if (result.code === 64) {
    if (/Command 'list_deprecated_features' not found/.test(result.stderr.slice(0, 2_000))) return 'unsupported';
    return undefined;
  }
  return parseJsonOutput(DeprecatedFeatures, result.stdout, host.name, 'list_deprecated_features')
    .map((f) => f.name)
    .sort();
}

/** Every policy that mirrors classic queues (`ha-mode`), across the node's vhosts (`list_policies` per vhost). */
export async function readMirroringPolicies(
  shells: Shells,
  host: Host,
  options: { timeoutMs?: number } = {},
): Promise<MirroringPolicy[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const shell = await shells.shell(host.name);
  const found: MirroringPolicy[] = [];
  for (const vhost of await listVhosts(shells, host, { timeoutMs })) {
    const policies = parseJsonOutput(
      Policies,
      (await shell.run(listPoliciesCommand(vhost), { timeoutMs })).stdout,
      host.name,
      'list_policies',
    );
    found.push(...mirroringPolicies(vhost, policies));
  }
  return found;
}
