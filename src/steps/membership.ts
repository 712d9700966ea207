import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError } from '../errors.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import { clusterStatusCommand } from '../rabbit/commands.js';
import { metadataStoreOfStatus } from '../rabbit/metadata-store.js';
import { countQueues, membersOf, readNodeStatus } from '../rabbit/queries.js';
import { onEveryHost, timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

/** The node's cluster_status, or status.unreachable (retryable) when its RabbitMQ app is not running. */
export async function clusterStatusOf(ctx: StepContext, host: Host): Promise<ClusterStatus> {
  const status = await readNodeStatus(ctx.shells, host);
  if (typeof status === 'string') {
    throw new WarrenError(
      'status.unreachable',
      `RabbitMQ is not running on ${host.name} (${status === 'vm-down' ? 'no Erlang VM' : 'app stopped'})`,
      {
        host: host.name,
        retryable: true,
        hint: 'Run the create again: its start step starts the node.',
      },
    );
  }
  return status;
}

/** Both sides list each other: the node is already in the seed's cluster. */
export function listsEachOther(
  seedNode: string,
  seedStatus: ClusterStatus,
  node: string,
  nodeStatus: ClusterStatus,
): boolean {
  return membersOf(seedStatus).includes(node) && membersOf(nodeStatus).includes(seedNode);
}

/**
 * Classifies one node, refusing one whose join would destroy something: a member of another
 * cluster, or a standalone node holding queues (join_cluster wipes the joining node).
 */
export async function assessNode(
  ctx: StepContext,
  host: Host,
  seedStatus: ClusterStatus,
  own: ClusterStatus,
): Promise<'member' | 'joinable'> {
  const node = nodeNameOf(host);
  if (listsEachOther(nodeNameOf(ctx.cluster.seed), seedStatus, node, own)) return 'member';
  if (ctx.options.allowWipe) return 'joinable';
  const foreign = own.disk_nodes.filter((n) => n !== node);
  if (foreign.length > 0) {
    throw new WarrenError(
      'join.would_wipe',
      `${host.name} belongs to another cluster (${foreign.join(', ')}); joining would wipe it`,
      {
        host: host.name,
        hint:
          `Check that ${host.name} is the right host. To wipe it and join ` +
          `anyway, run the create again with --allow-wipe.`,
      },
    );
  }
  const queues = await countQueues(ctx.shells, host);
  if (queues > 0) {
    throw new WarrenError('join.would_wipe', `${host.name} holds ${queues} queue(s); joining would delete them`, {
      host: host.name,
      hint:
        `Drain or move the queues on ${host.name} first, or run the create ` +
        `again with --allow-wipe to discard them.`,
    });
  }
  return 'joinable';
}

/**
 * The safety gate, before any node is touched: a node that belongs to another cluster or holds
 * queues is refused now, not after its cookie was changed (which would cut it off from its own
 * cluster). Nodes whose VM is not running cannot be asked; the join step assesses them later.
 * Read-only, so it runs on every attempt.
 */
export const membership: Step<Host> = {
  id: 'rabbit:membership',
  title: 'Check membership: nothing is wiped by a join',
  skippedDetail: 'never skipped',

  plan(cluster) {
    return cluster.hosts.map((host) => ({
      step: this.id,
      host: host.name,
      command: clusterStatusCommand().text,
      when: 'RabbitMQ is running',
    }));
  },

  check(ctx) {
    return Promise.resolve(ctx.cluster.joiners);
  },

  async run(ctx, hosts) {
    const seed = ctx.cluster.seed;
    // Every node's view at once: the seed's and each joiner's (a stopped VM answers at once).
    const [seedStatus, ...statuses] = await onEveryHost([seed, ...hosts], (host) => readNodeStatus(ctx.shells, host));
    if (seedStatus === undefined || typeof seedStatus === 'string') {
      return { detail: `seed ${seed.name} is not running yet: membership is checked before the join` };
    }
    const seedFacts = ctx.facts.get(seed.name);
    if (seedFacts) ctx.facts.set(seed.name, { ...seedFacts, metadataStore: metadataStoreOfStatus(seedStatus) });
    const verdicts = await onEveryHost(hosts, async (host, i) => {
      const own = statuses[i];
      if (own === undefined || typeof own === 'string')
        return { host, verdict: 'not running: checked before its join' };
      const found = await timedOnHost(
        ctx,
        host.name,
        () => assessNode(ctx, host, seedStatus, own),
        (m) => (m === 'member' ? 'already a member' : 'standalone, no queues: safe to join'),
      );
      const facts = ctx.facts.get(host.name);
      if (facts) ctx.facts.set(host.name, { ...facts, membership: found });
      return { host, verdict: found };
    });
    return { detail: verdicts.map((v) => `${v.host.name}: ${v.verdict}`).join('; ') };
  },
};
