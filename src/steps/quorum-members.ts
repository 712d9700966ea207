import { nodeNameOf } from '../config/load.js';
import type { ResolvedCluster } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, toWarrenError } from '../errors.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import { clusterStatusCommand, listVhostsCommand } from '../rabbit/commands.js';
import {
  deleteQueueMemberCommand,
  describeDrift,
  hasQuorumQueues,
  growQueuesCommand,
  listQueueMembersCommand,
  memberDrift,
  readQuorumMembers,
  shrinkQueuesCommand,
} from '../rabbit/quorum-queues.js';
import type { MemberDrift } from '../rabbit/quorum-queues.js';
import { membersOf, readNodeStatus } from '../rabbit/queries.js';
import { z } from 'zod';
import { timedOnHost } from './step.js';
import type { PlannedCommand, Step, StepContext } from './step.js';

/**
 * Whose replicas the step looks after: every configured node (create, add), or every node but the operation's target
 * (reset, remove).
 */
export type QuorumScope = 'cluster' | 'survivors';

/**
 * What the step leaves for verify: every quorum queue's members, read on `reader`, were exactly `nodes` when it
 * finished (nothing to change, or changed and read again). verify, run right after in the same attempt, need not
 * read them again.
 */
export const QuorumMembersSettled = z.object({ reader: z.string(), nodes: z.array(z.string()) });
export type QuorumMembersSettled = z.infer<typeof QuorumMembersSettled>;
export const QUORUM_MEMBERS_STEP_ID = 'rabbit:quorum-members';
/** foundBy's handle on what the step settled. */
export const settledQuorumMembers = { id: QUORUM_MEMBERS_STEP_ID, schema: QuorumMembersSettled };

type PendingMembers =
  | { kind: 'shrink'; reader: Host; node: string; queues: { vhost: string; name: string }[] }
  | { kind: 'grow'; reader: Host; node: string };

function intendedHosts(cluster: ResolvedCluster, scope: QuorumScope, target?: Host): Host[] {
  return scope === 'cluster' ? cluster.hosts : cluster.hosts.filter((h) => h.name !== target?.name);
}

/** The first intended host whose app answers, with its view; undefined when none does. */
async function readerOf(
  ctx: StepContext,
  hosts: readonly Host[],
): Promise<{ host: Host; status: ClusterStatus } | undefined> {
  for (const host of hosts) {
    const status = await readNodeStatus(ctx.shells, host).catch((thrown: unknown) => toWarrenError(thrown).code);
    if (typeof status !== 'string') return { host, status };
  }
  return undefined;
}

/** The nodes whose replicas every quorum queue must have: the intended hosts the cluster lists as members. */
export function quorumNodes(hosts: readonly Host[], status: ClusterStatus): string[] {
  const listed = new Set(membersOf(status));
  return hosts.map(nodeNameOf).filter((n) => listed.has(n));
}

/** What the drift asks for: shrink nodes that left the cluster, grow running nodes that lack replicas. */
export function pendingFor(reader: Host, status: ClusterStatus, drift: readonly MemberDrift[]): PendingMembers[] {
  const listed = new Set(membersOf(status));
  const running = new Set(status.running_nodes);
  const shrink = new Map<string, { vhost: string; name: string }[]>();
  const grow = new Set<string>();
  for (const d of drift) {
    // A replica on a member the config does not count is not warren's to remove; verify names it.
    for (const node of d.extra)
      if (!listed.has(node)) shrink.set(node, [...(shrink.get(node) ?? []), { vhost: d.vhost, name: d.name }]);
    for (const node of d.missing) if (running.has(node)) grow.add(node);
  }
  return [
    ...[...shrink].map(([node, queues]): PendingMembers => ({ kind: 'shrink', reader, node, queues })),
    ...[...grow].map((node): PendingMembers => ({ kind: 'grow', reader, node })),
  ];
}

/** shrink, and where it refuses a node that left (4.3.6: exit 69 node_not_running) one delete_member per queue. */
async function shrinkAway(ctx: StepContext, item: Extract<PendingMembers, { kind: 'shrink' }>): Promise<string> {
  const shell = await ctx.shells.shell(item.reader.name);
  const shrunk = await shell.run(shrinkQueuesCommand(item.node), { timeoutMs: 300_000, okExitCodes: [69] });
  if (shrunk.code === 0) return `${item.node}: shrunk away`;
  for (const q of item.queues)
    await shell.run(deleteQueueMemberCommand(q.vhost, q.name, item.node), { timeoutMs: 120_000 });
  return `${item.node}: replica deleted from ${item.queues.length} queue(s)`;
}

/**
 * Quorum queue membership follows the cluster's: every quorum queue has a replica on each node of
 * the cluster and on no other. A node that left (a reset, a remove) is shrunk away; a node that
 * joined (add, or a reset node joined again by create) gets replicas with `grow … all`. Checked
 * from the first running node; confirmed by reading the members again. RabbitMQ 3.8 and later.
 */
export function quorumMembers(scope: QuorumScope): Step<PendingMembers> {
  return {
    id: QUORUM_MEMBERS_STEP_ID,
    title:
      scope === 'cluster' ? 'Quorum queues: a replica on every node' : 'Quorum queues: replicas only on the nodes left',
    skippedDetail: 'every quorum queue has a replica on exactly the cluster nodes',

    plan(cluster, target) {
      const hosts = intendedHosts(cluster, scope, target);
      const reader = hosts[0];
      if (!reader) return [];
      const commands: PlannedCommand[] = [
        {
          step: this.id,
          host: reader.name,
          command: clusterStatusCommand().text,
          when: 'first node that runs, RabbitMQ 3.8 or later',
        },
        { step: this.id, host: reader.name, command: listVhostsCommand().text },
        { step: this.id, host: reader.name, command: listQueueMembersCommand('<vhost>').text, when: 'for each vhost' },
      ];
      if (scope === 'survivors' && target) {
        const node = nodeNameOf(target);
        commands.push(
          {
            step: this.id,
            host: reader.name,
            command: shrinkQueuesCommand(node).text,
            when: `a quorum queue keeps a replica on ${node}`,
          },
          {
            step: this.id,
            host: reader.name,
            command: deleteQueueMemberCommand('<vhost>', '<queue>', node).text,
            when: 'for each such queue, when shrink refuses a node that left (4.3: exit 69)',
          },
        );
      } else {
        for (const host of hosts)
          commands.push({
            step: this.id,
            host: reader.name,
            command: growQueuesCommand(nodeNameOf(host)).text,
            when: `a quorum queue has no replica on ${nodeNameOf(host)}`,
          });
      }
      return commands;
    },

    async check(ctx) {
      if (!hasQuorumQueues(ctx.facts.get(ctx.cluster.seed.name)?.rabbitmqVersion)) return [];
      const hosts = intendedHosts(ctx.cluster, scope, ctx.target);
      const found = await readerOf(ctx, hosts);
      if (!found)
        throw new WarrenError(
          'status.unreachable',
          `no node of ${ctx.cluster.cluster.name} runs: quorum queue members cannot be read`,
          {
            retryable: true,
            hint: `Start RabbitMQ on a node of ${ctx.cluster.cluster.name} and run the operation again.`,
          },
        );
      const queues = await readQuorumMembers(ctx.shells, found.host);
      const nodes = quorumNodes(hosts, found.status);
      const drift = memberDrift(queues, nodes);
      // settled only without any drift: one warren leaves alone (a replica on a member it does not count) is verify's
      if (drift.length === 0) ctx.found?.set(this.id, { reader: found.host.name, nodes });
      return pendingFor(found.host, found.status, drift);
    },

    async run(ctx, pending) {
      const done: string[] = [];
      for (const item of pending) {
        const line = await timedOnHost(
          ctx,
          item.reader.name,
          async () => {
            if (item.kind === 'shrink') return shrinkAway(ctx, item);
            await (await ctx.shells.shell(item.reader.name)).run(growQueuesCommand(item.node), { timeoutMs: 300_000 });
            return `${item.node}: grown onto every quorum queue`;
          },
          (l) => l,
        );
        done.push(line);
      }
      // Confirmed by reading again, from the node that made the changes.
      const reader = pending[0]?.reader ?? ctx.cluster.seed;
      const status = await readNodeStatus(ctx.shells, reader);
      if (typeof status !== 'string') {
        const left = memberDrift(
          await readQuorumMembers(ctx.shells, reader),
          quorumNodes(intendedHosts(ctx.cluster, scope, ctx.target), status),
        );
        if (left.length === 0)
          ctx.found?.set(this.id, {
            reader: reader.name,
            nodes: quorumNodes(intendedHosts(ctx.cluster, scope, ctx.target), status),
          });
        if (left.length > 0) {
          throw new WarrenError(
            'verify.failed',
            `quorum queue members still differ from ${ctx.cluster.cluster.name}'s ` +
              `nodes: ${describeDrift(left, 3).join('; ')}`,
            {
              host: reader.name,
              retryable: true,
              hint:
                `Run warren status ${ctx.cluster.cluster.name}; a node without ` +
                `replicas must run for grow to reach it.`,
            },
          );
        }
      }
      return { detail: done.join('; ') };
    },
  };
}
