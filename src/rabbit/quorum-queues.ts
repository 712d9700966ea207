import { z } from 'zod';
import { WarrenError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { ShellCommand } from '../ssh/quote.js';
import type { Host } from '../config/schema.js';
import type { Shells } from '../ssh/session.js';
import { parseJsonOutput } from './cluster-status.js';
import { AS_RABBITMQ } from './commands.js';
import { listVhosts } from './queries.js';

/**
 * Quorum queue membership (RabbitMQ 3.8+). Measured on 4.0.5 and 4.3.6: a member reset while its
 * peers run leaves the cluster but stays listed as a member of every quorum queue; a node that
 * joins gets no replicas until `grow`; a forget removes the forgotten node's replicas.
 */

/** Quorum queues exist from RabbitMQ 3.8; an unknown version is asked (the command then says). */
export function hasQuorumQueues(version: string | undefined): boolean {
  if (version === undefined) return true;
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  return major > 3 || (major === 3 && minor >= 8);
}

/**
 * Every queue of one vhost with its type and members; with `online` also the replicas that run
 * (4.x: `online` is "" for a classic queue; measured on 4.0.5 and 4.3.6). Classic queues list their
 * one node (4.x) or nothing.
 */
export function listQueueMembersCommand(
  vhost: string,
  columns: 'members' | 'members-online' = 'members',
): ShellCommand {
  return columns === 'members'
    ? sh`${AS_RABBITMQ} rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name type members </dev/null`.named(
        'rabbitmqctl list_queues name type members',
      )
    : sh`${AS_RABBITMQ} rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name type members online </dev/null`.named(
        'rabbitmqctl list_queues members',
      );
}

/**
 * Removes the node's replica from every quorum queue. 4.0.5: exit 0, also for a node reset away; 4.3.6: exit 69
 * `node_not_running` for a node that is not a running member.
 */
export function shrinkQueuesCommand(nodeName: string): ShellCommand {
  return sh`rabbitmq-queues -q shrink ${nodeName} </dev/null`;
}

/** Removes one queue's replica on the node: what does the shrink's work on 4.3.6 (exit 0 for a node reset away). */
export function deleteQueueMemberCommand(vhost: string, queue: string, nodeName: string): ShellCommand {
  return sh`${AS_RABBITMQ} rabbitmq-queues -q delete_member --vhost ${vhost} ${queue} ${nodeName} </dev/null`;
}

/**
 * Adds a replica on the node to every quorum queue lacking one (exit 64 "not a member of the cluster" on 4.3.6 when it
 * is not).
 */
export function growQueuesCommand(nodeName: string): ShellCommand {
  return sh`rabbitmq-queues -q grow ${nodeName} all </dev/null`;
}

/** A node name list; a classic queue on some versions prints "" instead. */
const NodeList = z.union([z.array(z.string()), z.string().transform((): string[] => [])]).default([]);

/** list_queues name type members [online], only what warren reads; bounded (100 000 queues print about 10 MB). */
export const QueueMembers = z
  .array(z.object({ name: z.string(), type: z.string().optional(), members: NodeList, online: NodeList }).loose())
  .max(100_000);
export type QueueMembers = z.infer<typeof QueueMembers>;

/** One quorum queue and the nodes holding its replicas. */
export interface QuorumQueueMembers {
  vhost: string;
  name: string;
  members: string[];
}

/** A cluster's queue listing is bounded: 100 000 queues print about 10 MB. */
const MAX_LIST_CHARS = 16_000_000;

function parseQueueRows(stdout: string, host: string): QueueMembers {
  if (stdout.length > MAX_LIST_CHARS)
    throw new WarrenError(
      'status.unparseable',
      `list_queues on ${host} printed ${stdout.length} characters: more than warren reads`,
      { host },
    );
  return parseJsonOutput(QueueMembers, stdout, host, 'list_queues');
}

/** Parses one vhost's list_queues output (name type members), keeping the quorum queues. */
export function parseQueueMembers(stdout: string, host: string, vhost: string): QuorumQueueMembers[] {
  return parseQueueRows(stdout, host)
    .filter((q) => q.type === 'quorum')
    .map((q) => ({ vhost, name: q.name, members: q.members }));
}

/**
 * Every vhost's queues with their members (and online replicas, when asked), read on one running node: one call per
 * vhost. Read-only.
 */
export async function readQueueMembers(
  shells: Shells,
  host: Host,
  options: { columns?: 'members' | 'members-online'; timeoutMs?: number } = {},
): Promise<{ vhost: string; queues: QueueMembers }[]> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  const shell = await shells.shell(host.name);
  const read: { vhost: string; queues: QueueMembers }[] = [];
  for (const vhost of await listVhosts(shells, host, { timeoutMs })) {
    read.push({
      vhost,
      queues: parseQueueRows(
        (await shell.run(listQueueMembersCommand(vhost, options.columns), { timeoutMs })).stdout,
        host.name,
      ),
    });
  }
  return read;
}

/** Every quorum queue of the cluster with its members, read on one running node (one call per vhost). Read-only. */
export async function readQuorumMembers(shells: Shells, host: Host): Promise<QuorumQueueMembers[]> {
  return (await readQueueMembers(shells, host)).flatMap(({ vhost, queues }) =>
    queues.filter((q) => q.type === 'quorum').map((q) => ({ vhost, name: q.name, members: q.members })),
  );
}

/** How one quorum queue's members differ from the cluster's nodes. */
export interface MemberDrift {
  vhost: string;
  name: string;
  /** Cluster nodes without a replica (grow them). */
  missing: string[];
  /** Replicas on nodes outside the cluster (shrink them away). */
  extra: string[];
}

/** The quorum queues whose members are not exactly `nodes`; linear in queues × members. */
export function memberDrift(queues: readonly QuorumQueueMembers[], nodes: readonly string[]): MemberDrift[] {
  const want = new Set(nodes);
  const drift: MemberDrift[] = [];
  for (const q of queues) {
    const have = new Set(q.members);
    const missing = nodes.filter((n) => !have.has(n));
    const extra = [...have].filter((n) => !want.has(n));
    if (missing.length > 0 || extra.length > 0) drift.push({ vhost: q.vhost, name: q.name, missing, extra });
  }
  return drift;
}

/** One line per drifting queue, at most `limit` of them, for problems and errors. */
export function describeDrift(drift: readonly MemberDrift[], limit = 10): string[] {
  const lines = drift
    .slice(0, limit)
    .map(
      (d) =>
        `quorum queue ${d.name} in vhost ${d.vhost}` +
        `${d.missing.length ? ` has no replica on ${d.missing.join(', ')}` : ''}` +
        `${d.missing.length && d.extra.length ? ' and' : ''}` +
        `${d.extra.length ? ` keeps a replica on ${d.extra.join(', ')} (not a cluster node)` : ''}`,
    );
  if (drift.length > limit) lines.push(`… and ${drift.length - limit} more quorum queue(s)`);
  return lines;
}

/** A quorum queue with fewer replicas online than the cluster has nodes. */
export interface UnderReplicatedQueue {
  vhost: string;
  name: string;
  online: string[];
  /** The cluster's nodes that hold no online replica of it. */
  missing: string[];
}

/** Quorum queues whose online replicas are fewer than the cluster's nodes, with the nodes they lack. */
export function underReplicatedQueues(
  vhost: string,
  queues: QueueMembers,
  clusterNodes: readonly string[],
): UnderReplicatedQueue[] {
  return queues
    .filter((q) => q.type === 'quorum')
    .map((q) => ({
      vhost,
      name: q.name,
      online: [...q.online].sort(),
      missing: clusterNodes.filter((n) => !q.online.includes(n)),
    }))
    .filter((q) => q.missing.length > 0);
}

/** "quorum queue 'orders' in vhost '/': 2 of 3 replicas online (none on rabbit@lab3)". */
export function describeUnderReplicated(q: UnderReplicatedQueue, clusterSize: number): string {
  return (
    `quorum queue '${q.name}' in vhost '${q.vhost}' is under-replicated: ` +
    `${q.online.length} of ${clusterSize} replicas online (none on ` +
    `${q.missing.join(', ')})`
  );
}
