import { z } from 'zod';
import { WarrenError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { ShellCommand } from '../ssh/quote.js';
import type { RemoteShell } from '../ssh/session.js';
import { parseJsonOutput } from './cluster-status.js';
import { listVhostsCommand } from './commands.js';

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

/** Every queue of one vhost with its type and members; classic queues list their one node (4.x) or nothing. */
export function listQueueMembersCommand(vhost: string): ShellCommand {
  return sh`rabbitmqctl -q list_queues --formatter json --vhost ${vhost} name type members </dev/null`.named('rabbitmqctl list_queues name type members');
}

/** Removes the node's replica from every quorum queue. 4.0.5: exit 0, also for a node reset away; 4.3.6: exit 69 `node_not_running` for a node that is not a running member. */
export function shrinkQueuesCommand(nodeName: string): ShellCommand {
  return sh`rabbitmq-queues -q shrink ${nodeName} </dev/null`;
}

/** Removes one queue's replica on the node: what does the shrink's work on 4.3.6 (exit 0 for a node reset away). */
export function deleteQueueMemberCommand(vhost: string, queue: string, nodeName: string): ShellCommand {
  return sh`rabbitmq-queues -q delete_member --vhost ${vhost} ${queue} ${nodeName} </dev/null`;
}

/** Adds a replica on the node to every quorum queue lacking one (exit 64 "not a member of the cluster" on 4.3.6 when it is not). */
export function growQueuesCommand(nodeName: string): ShellCommand {
  return sh`rabbitmq-queues -q grow ${nodeName} all </dev/null`;
}

const Vhosts = z.array(z.object({ name: z.string() })).max(10_000);
// members is a list of node names; a classic queue on some versions prints "" instead.
const QueueRow = z.object({ name: z.string(), type: z.string().optional(), members: z.union([z.array(z.string()), z.string().transform((): string[] => [])]).optional() }).loose();
const QueueRows = z.array(QueueRow).max(100_000);

/** One quorum queue and the nodes holding its replicas. */
export interface QuorumQueueMembers {
  vhost: string;
  name: string;
  members: string[];
}

/** A cluster's queue listing is bounded: 100 000 queues print about 10 MB. */
const MAX_LIST_CHARS = 16_000_000;

/** Parses one vhost's list_queues output (name type members), keeping the quorum queues. */
export function parseQueueMembers(stdout: string, host: string, vhost: string): QuorumQueueMembers[] {
  if (stdout.length > MAX_LIST_CHARS) throw new WarrenError('status.unparseable', `list_queues on ${host} printed ${stdout.length} characters: more than warren reads`, { host });
  return parseJsonOutput(QueueRows, stdout, host, 'list_queues')
    .filter((q) => q.type === 'quorum')
    .map((q) => ({ vhost, name: q.name, members: q.members ?? [] }));
}

/** Every quorum queue of the cluster with its members, read on one running node (one call per vhost). Read-only. */
export async function readQuorumMembers(shell: RemoteShell): Promise<QuorumQueueMembers[]> {
  const host = shell.host.name;
  const vhosts = parseJsonOutput(Vhosts, (await shell.run(listVhostsCommand(), { timeoutMs: 90_000 })).stdout, host, 'list_vhosts');
  const queues: QuorumQueueMembers[] = [];
  for (const { name } of vhosts) queues.push(...parseQueueMembers((await shell.run(listQueueMembersCommand(name), { timeoutMs: 90_000 })).stdout, host, name));
  return queues;
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
  const lines = drift.slice(0, limit).map((d) => `quorum queue ${d.name} in vhost ${d.vhost}${d.missing.length ? ` has no replica on ${d.missing.join(', ')}` : ''}${d.missing.length && d.extra.length ? ' and' : ''}${d.extra.length ? ` keeps a replica on ${d.extra.join(', ')} (not a cluster node)` : ''}`);
  if (drift.length > limit) lines.push(`… and ${drift.length - limit} more quorum queue(s)`);
  return lines;
}
