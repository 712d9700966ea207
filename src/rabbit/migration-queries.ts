import type { Host } from '../config/schema.js';
import { WarrenError } from '../errors.js';
import type { Shells } from '../ssh/session.js';
import { parseJsonOutput } from './cluster-status.js';
import type { ClusterStatus } from './cluster-status.js';
import { Policies } from './policies.js';
import {
  QueueRows,
  VhostRows,
  listVhostDefaultsCommand,
  listVhostPoliciesCommand,
  listVhostQueuesCommand,
} from './quorum-migration.js';
import type { MigrationFacts, ShownQueue, VhostFacts } from './quorum-migration.js';
import { compareVersions } from './version.js';

/**
 * The read-only questions of the quorum migration (kept beside queries.ts, in the same manner: one
 * way each is asked and judged, its output schema-checked and bounded).
 */

const TIMEOUT_MS = 60_000;

/** The lowest RabbitMQ version a cluster_status lists for its running nodes; undefined when it lists none. */
export function lowestVersion(status: ClusterStatus): string | undefined {
  const versions = Object.entries(status.versions ?? {})
    .filter(([node]) => status.running_nodes.includes(node))
    .map(([, v]) => v.rabbitmq_version)
    .filter((v): v is string => typeof v === 'string' && /^\d{1,3}\.\d{1,3}(?:\.\d{1,6})?/.test(v));
  return versions.sort(compareVersions)[0];
}

/** The classic queues of one vhost, with their messages and consumers (list_queues on a member lists every node's). */
export async function readVhostQueues(shells: Shells, host: Host, vhost: string): Promise<QueueRows> {
  const shell = await shells.shell(host.name);
  const result = await shell.run(listVhostQueuesCommand(vhost), { timeoutMs: TIMEOUT_MS });
  return parseJsonOutput(QueueRows, result.stdout, host.name, 'list_queues');
}

/** Every vhost's name and default queue type (`list_vhosts name default_queue_type`). */
export async function readVhostDefaults(shells: Shells, host: Host): Promise<VhostRows> {
  const shell = await shells.shell(host.name);
  const result = await shell.run(listVhostDefaultsCommand(), { timeoutMs: TIMEOUT_MS });
  return parseJsonOutput(VhostRows, result.stdout, host.name, 'list_vhosts');
}

/** One vhost's policies. */
export async function readVhostPolicies(shells: Shells, host: Host, vhost: string): Promise<Policies> {
  const shell = await shells.shell(host.name);
  const result = await shell.run(listVhostPoliciesCommand(vhost), { timeoutMs: TIMEOUT_MS });
  return parseJsonOutput(Policies, result.stdout, host.name, 'list_policies');
}

/**
 * Every vhost with its default queue type, and what `read` asks of each: its policies, its queues (each a rabbitmqctl
 * call, an Erlang VM start on the node: a step asks only what it judges).
 */
export async function readMigrationFacts(
  shells: Shells,
  host: Host,
  cluster: string,
  status: ClusterStatus,
  read: { policies: boolean; queues: boolean } = { policies: true, queues: true },
): Promise<MigrationFacts> {
  const rabbitmqVersion = lowestVersion(status);
  if (rabbitmqVersion === undefined)
    throw new WarrenError('status.unparseable', `cluster_status on ${host.name} names no RabbitMQ version`, {
      host: host.name,
    });
  const vhosts: VhostFacts[] = [];
  for (const row of await readVhostDefaults(shells, host)) {
    vhosts.push({
      name: row.name,
      ...(row.default_queue_type === undefined ? {} : { defaultQueueType: row.default_queue_type }),
      policies: read.policies ? await readVhostPolicies(shells, host, row.name) : [],
      queues: read.queues ? await readVhostQueues(shells, host, row.name) : [],
    });
  }
  return { cluster, readFrom: host.name, rabbitmqVersion, vhosts };
}

/** The key that names one queue across vhosts. */
export function queueKey(queue: Pick<ShownQueue, 'vhost' | 'name'>): string {
  return JSON.stringify([queue.vhost, queue.name]);
}
