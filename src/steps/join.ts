import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import { joinClusterCommand, startAppCommand, stopAppCommand } from '../rabbit/commands.js';
import { metadataStoreOfStatus } from '../rabbit/metadata-store.js';
import { membersOf, readNodeStatus } from '../rabbit/queries.js';
import { confirmMembership, hostsAmong, planConfirmation } from './confirm-membership.js';
import { assessNode, clusterStatusOf } from './membership.js';
import { onEveryHost, timedOnHost } from './step.js';
import type { PlannedCommand, Step, StepContext } from './step.js';

/** A node to join. */
interface PendingJoin {
  host: Host;
  /** Already recorded as a member by the seed: the join only restores it. */
  knownToSeed: boolean;
}

/**
 * Decides whether one node must join. The membership gate vetted running nodes before the cookie
 * step; a node it found joinable is joined without asking again. Members are skipped when they run;
 * nodes the gate could not ask (not running then, or a resumed attempt) are assessed now.
 */
async function pendingJoinFor(
  ctx: StepContext,
  host: Host,
  seedStatus: () => Promise<ClusterStatus>,
): Promise<PendingJoin | undefined> {
  const known = ctx.facts.get(host.name)?.membership;
  if (known === 'joinable') return { host, knownToSeed: false };
  const seed = await seedStatus();
  const node = nodeNameOf(host);
  if (known === 'member') return seed.running_nodes.includes(node) ? undefined : { host, knownToSeed: true };
  let own = await readNodeStatus(ctx.shells, host);
  let seedView = seed;
  if (own === 'app-stopped') {
    // A worker died between stop_app and start_app. Bring the app back, then judge the node as it
    // is now, against a fresh seed view (the cached one predates the node's return).
    const shell = await ctx.shells.shell(host.name);
    await shell.run(startAppCommand(), { timeoutMs: 300_000 });
    own = await readNodeStatus(ctx.shells, host);
    seedView = await clusterStatusOf(ctx, ctx.cluster.seed);
  }
  if (typeof own === 'string') {
    throw new WarrenError('status.unreachable', `RabbitMQ is not running on ${host.name}`, {
      host: host.name,
      retryable: true,
      hint: 'Run the create again: its start step starts the node.',
    });
  }
  const verdict = await assessNode(ctx, host, seedView, own);
  if (verdict === 'joinable') return { host, knownToSeed: false };
  return seedView.running_nodes.includes(node) ? undefined : { host, knownToSeed: true };
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
      ctx.logger.warn(
        { host: host.name, code: isWarrenError(restartError) ? restartError.code : 'unknown' },
        'start_app after a failed join failed too',
      );
    });
    if (isWarrenError(error) && error.code === 'command.failed') {
      throw new WarrenError('join.failed', `${host.name} could not join ${nodeNameOf(ctx.cluster.seed)}`, {
        retryable: error.retryable,
        ...(error.evidence ? { evidence: error.evidence } : {}),
        hint:
          'Exit code 69 means the seed was unreachable or the cookies differ: ' +
          'check that both resolve each other and run the create again.',
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
    const joins = cluster.joiners.flatMap((host) =>
      [stopAppCommand(), joinClusterCommand(seedNode), startAppCommand()].map((command): PlannedCommand => ({
        step: this.id,
        host: host.name,
        command: command.text,
        when: `${nodeNameOf(host)} is not yet a member (one node at a time)`,
      })),
    );
    return joins.length === 0 ? [] : [...joins, ...planConfirmation(this.id, cluster.seed.name)];
  },

  async check(ctx) {
    let seedStatus: Promise<ClusterStatus> | undefined;
    const readSeedOnce = () => (seedStatus ??= clusterStatusOf(ctx, ctx.cluster.seed));
    // The checks are read-only, so they run in parallel; only the joins themselves are serial.
    const assessed = await onEveryHost(ctx.cluster.joiners, (host) => pendingJoinFor(ctx, host, readSeedOnce));
    const seedFacts = ctx.facts.get(ctx.cluster.seed.name);
    // The seed's store, when this check read its status, tells the run whether a join needs a majority's confirmation.
    if (seedStatus && seedFacts)
      ctx.facts.set(ctx.cluster.seed.name, { ...seedFacts, metadataStore: metadataStoreOfStatus(await seedStatus) });
    return assessed.filter((p): p is PendingJoin => p !== undefined);
  },

  async run(ctx, pending) {
    // The membership gate read the seed's store; Mnesia commits a join with its exit code, so nothing more is read.
    let store = ctx.facts.get(ctx.cluster.seed.name)?.metadataStore;
    let members = new Set<string>();
    if (store !== 'mnesia') {
      const seed = await clusterStatusOf(ctx, ctx.cluster.seed);
      store = metadataStoreOfStatus(seed);
      members = new Set(membersOf(seed));
    }
    for (const { host, knownToSeed } of pending) {
      members.add(nodeNameOf(host));
      const expected = [...members];
      await timedOnHost(
        ctx,
        host.name,
        async () => {
          await joinNode(ctx, host);
          // Under Khepri a join exits 0 before it is committed (4.3.6 into a minority leader): it counts once a
          // majority confirms it.
          await confirmMembership(ctx, {
            expected,
            from: hostsAmong(ctx, expected),
            store,
            what: `${host.name} joining ${ctx.cluster.cluster.name}`,
          });
        },
        () => (knownToSeed ? 'member again, app started' : `joined ${nodeNameOf(ctx.cluster.seed)}`),
      );
    }
    return { detail: `joined ${pending.map((p) => p.host.name).join(', ')}` };
  },
};
