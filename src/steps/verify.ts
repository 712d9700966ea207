import { nodeNameOf } from '../config/load.js';
import { WarrenError } from '../errors.js';
import { evaluateHealth } from '../rabbit/cluster-status.js';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import { clusterStatusCommand } from '../rabbit/commands.js';
import { clusterStatusOf } from './membership.js';
import type { Step, StepContext } from './step.js';

/** A node that has just run start_app can take a few seconds to show in running_nodes. */
const SETTLE_DEADLINE_MS = 60_000;
const SETTLE_INTERVAL_MS = 1_000;

export function expectedNodes(ctx: Pick<StepContext, 'cluster'>): Map<string, string> {
  return new Map(ctx.cluster.hosts.map((h) => [nodeNameOf(h), h.name]));
}

/** Reads cluster_status on the seed until the cluster is healthy or the deadline passes. */
export async function awaitHealthy(ctx: StepContext, deadlineMs = SETTLE_DEADLINE_MS): Promise<ClusterHealth> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const status = await clusterStatusOf(ctx, ctx.cluster.seed);
    const health = evaluateHealth(ctx.cluster.cluster.name, status, expectedNodes(ctx), ctx.cluster.seed.name);
    if (health.headline === 'healthy' || Date.now() >= deadline) return health;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_INTERVAL_MS));
  }
}

/**
 * Passes when running nodes = disk nodes = the expected set, with no alarms and no partitions.
 * Read-only, so it runs on every attempt; its output is the cluster's health.
 */
export const verify: Step<'seed'> = {
  id: 'rabbit:verify',
  title: 'Verify cluster_status',
  skippedDetail: 'never skipped',

  plan(cluster) {
    return [{ step: this.id, host: cluster.seed.name, command: clusterStatusCommand().text }];
  },

  check() {
    return Promise.resolve(['seed' as const]);
  },

  async run(ctx) {
    const health = await awaitHealthy(ctx);
    if (health.headline !== 'healthy') {
      throw new WarrenError('verify.failed', `cluster ${ctx.cluster.cluster.name} is ${health.headline}: ${health.problems.join('; ')}`, {
        host: ctx.cluster.seed.name,
        retryable: true,
        hint: 'Run `warren status` to see each node; fix the node named and run the create again.',
      });
    }
    const running = health.nodes.filter((n) => n.running).length;
    return { detail: `${running} running disk nodes, no alarms, no partitions`, output: health };
  },
};
