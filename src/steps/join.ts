import { z } from 'zod';
import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import { parseClusterStatus } from '../rabbit/cluster-status.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import {
  clusterStatusCommand,
  joinClusterCommand,
  listQueuesCommand,
  listVhostsCommand,
  startAppCommand,
  stopAppCommand,
} from '../rabbit/commands.js';
import { onEveryHost, timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

const Vhosts = z.array(z.object({ name: z.string() }));
const Queues = z.array(z.object({ name: z.string() }));

export async function clusterStatusOf(ctx: StepContext, host: Host): Promise<ClusterStatus> {
  const shell = await ctx.shells.shell(host.name);
  return parseClusterStatus((await shell.run(clusterStatusCommand(), { timeoutMs: 120_000 })).stdout, host.name);
}

async function queueCount(ctx: StepContext, host: Host): Promise<number> {
  const shell = await ctx.shells.shell(host.name);
  const vhosts = Vhosts.parse(JSON.parse((await shell.run(listVhostsCommand())).stdout));
  let total = 0;
  for (const vhost of vhosts) total += Queues.parse(JSON.parse((await shell.run(listQueuesCommand(vhost.name))).stdout)).length;
  return total;
}

/** A node to join, and why it is safe (checked before any node is touched). */
interface PendingJoin {
  host: Host;
  /** Already recorded as a member by the seed: the join only restores it. */
  knownToSeed: boolean;
}

/**
 * Decides, for one node, whether it must join: skipped when it and the seed list each other and it
 * runs. `join_cluster` wipes the joining node, so a node with queues or another cluster's
 * membership is refused unless the job allows the wipe.
 */
async function assessNode(ctx: StepContext, host: Host, seedStatus: ClusterStatus): Promise<PendingJoin | undefined> {
  const node = nodeNameOf(host);
  const seedNode = nodeNameOf(ctx.cluster.seed);
  const own = await clusterStatusOf(ctx, host);
  const seedListsNode = seedStatus.disk_nodes.includes(node) || (seedStatus.ram_nodes ?? []).includes(node);
  const nodeListsSeed = own.disk_nodes.includes(seedNode) || (own.ram_nodes ?? []).includes(seedNode);
  if (seedListsNode && nodeListsSeed && seedStatus.running_nodes.includes(node)) return undefined;
  if (seedListsNode && nodeListsSeed) return { host, knownToSeed: true };
  if (ctx.options.allowWipe) return { host, knownToSeed: false };

  const foreign = own.disk_nodes.filter((n) => n !== node);
  if (foreign.length > 0) {
    throw new WarrenError('join.would_wipe', `${host.name} belongs to another cluster (${foreign.join(', ')}); joining would wipe it`, {
      host: host.name,
      hint: `Check that ${host.name} is the right host. To wipe it and join anyway, run the create again with --allow-wipe.`,
    });
  }
  const queues = await queueCount(ctx, host);
  if (queues > 0) {
    throw new WarrenError('join.would_wipe', `${host.name} holds ${queues} queue(s); joining would delete them`, {
      host: host.name,
      hint: `Drain or move the queues on ${host.name} first, or run the create again with --allow-wipe to discard them.`,
    });
  }
  return { host, knownToSeed: false };
}

/** stop_app, join_cluster, start_app; on a failed join the app is started again so the node is not left down. */
async function joinNode(ctx: StepContext, host: Host): Promise<void> {
  const shell = await ctx.shells.shell(host.name);
  await shell.run(stopAppCommand(), { timeoutMs: 120_000 });
  try {
    // "already a member of this cluster" exits 0: treated as success.
    await shell.run(joinClusterCommand(nodeNameOf(ctx.cluster.seed)), { timeoutMs: 120_000 });
  } catch (error) {
    await shell.run(startAppCommand(), { timeoutMs: 120_000 }).catch((restartError: unknown) => {
      ctx.logger.warn({ host: host.name, code: isWarrenError(restartError) ? restartError.code : 'unknown' }, 'start_app after a failed join failed too');
    });
    if (isWarrenError(error) && error.code === 'command.failed') {
      throw new WarrenError('join.failed', `${host.name} could not join ${nodeNameOf(ctx.cluster.seed)}`, {
        retryable: error.retryable,
        ...(error.evidence ? { evidence: error.evidence } : {}),
        hint: 'Exit code 69 means the seed was unreachable or the cookies differ: check that both resolve each other and run the create again.',
      });
    }
    throw error;
  }
  await shell.run(startAppCommand(), { timeoutMs: 300_000 });
}

/** Nodes 2..n join the seed one at a time (parallel joins race). */
export const join: Step<PendingJoin> = {
  id: 'rabbit:join',
  title: 'Join the nodes to the seed, one at a time',
  skippedDetail: 'every node is already a member of the cluster',

  plan(cluster) {
    const seedNode = nodeNameOf(cluster.seed);
    return cluster.hosts
      .filter((h) => h.name !== cluster.seed.name)
      .flatMap((host) =>
        [stopAppCommand(), joinClusterCommand(seedNode), startAppCommand()].map((command) => ({
          step: this.id,
          host: host.name,
          command: command.text,
          when: `${nodeNameOf(host)} is not yet a member (one node at a time)`,
        })),
      );
  },

  async check(ctx) {
    const seedStatus = await clusterStatusOf(ctx, ctx.cluster.seed);
    const others = ctx.cluster.hosts.filter((h) => h.name !== ctx.cluster.seed.name);
    // The checks are read-only, so they run in parallel; only the joins themselves are serial.
    const assessed = await onEveryHost(others, (host) => assessNode(ctx, host, seedStatus));
    return assessed.filter((p): p is PendingJoin => p !== undefined);
  },

  async run(ctx, pending) {
    for (const { host, knownToSeed } of pending) {
      await timedOnHost(ctx, host.name, () => joinNode(ctx, host), () => (knownToSeed ? 'member again, app started' : `joined ${nodeNameOf(ctx.cluster.seed)}`));
    }
    return { detail: `joined ${pending.map((p) => p.host.name).join(', ')}` };
  },
};
