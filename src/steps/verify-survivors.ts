import type { z } from 'zod';
import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, toWarrenError } from '../errors.js';
import { evaluateHealth } from '../rabbit/cluster-status.js';
import { ClusterHealth } from '../rabbit/cluster-status.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import { clusterStatusCommand } from '../rabbit/commands.js';
import { pauseUnlessCancelled } from '../ssh/cancellation.js';
import { membersOf, readNodeStatus } from '../rabbit/queries.js';
import { targetOf } from './reset-node.js';
import { NodeOutcomes } from './step.js';
import type { Step, StepContext } from './step.js';
import { planBeyondStatus, verifyBeyondStatus } from './verify.js';

/** The cluster's health as the survivors show it, and a warning per member that is not clustered. */
const SurvivorsOutput = NodeOutcomes.extend({ health: ClusterHealth });
type SurvivorsOutput = z.infer<typeof SurvivorsOutput>;

const SETTLE_DEADLINE_MS = 60_000;
const SETTLE_INTERVAL_MS = 1_000;

/** The members left clustered after a reset or remove: every member but the target. */
export function survivorsOf(ctx: Pick<StepContext, 'cluster' | 'target'>): Host[] {
  return ctx.cluster.hosts.filter((h) => h.name !== ctx.target?.name);
}

/**
 * The survivors' health, read from the first that answers (seed first), until healthy or the
 * deadline. A survivor the cluster does not list (reset earlier: still counted by the config, not
 * clustered) is not expected here; it is named in `unclustered`.
 */
async function survivorsHealth(
  ctx: StepContext,
  survivors: Host[],
): Promise<{ health: ClusterHealth; unclustered: string[]; status: ClusterStatus; reader: Host }> {
  const deadline = Date.now() + SETTLE_DEADLINE_MS;
  for (;;) {
    let found: { health: ClusterHealth; unclustered: string[]; status: ClusterStatus; reader: Host } | undefined;
    for (const host of survivors) {
      const status = await readNodeStatus(ctx.shells, host).catch((e: unknown) => toWarrenError(e).code);
      if (typeof status === 'string') continue;
      const listed = new Set(membersOf(status));
      const clustered = survivors.filter((h) => listed.has(nodeNameOf(h)));
      const expected = new Map(clustered.map((h) => [nodeNameOf(h), h.name]));
      found = {
        health: evaluateHealth(ctx.cluster.cluster.name, status, expected, host.name),
        unclustered: survivors.filter((h) => !listed.has(nodeNameOf(h))).map((h) => h.name),
        status,
        reader: host,
      };
      break;
    }
    if (found?.health.headline === 'healthy' || Date.now() >= deadline) {
      if (found) return found;
      throw new WarrenError('verify.failed', `no survivor of ${ctx.cluster.cluster.name} answers cluster_status`, {
        retryable: true,
        hint: `Run warren status ${ctx.cluster.cluster.name}.`,
      });
    }
    await pauseUnlessCancelled(
      ctx.signal,
      SETTLE_INTERVAL_MS,
      `reading the survivors of ${ctx.cluster.cluster.name} again`,
    );
  }
}

/**
 * After a reset or remove: the survivors (every member but the target) are running disk nodes of
 * one cluster with no alarms and no partitions, and the target is no longer among them; every
 * quorum queue's members are the clustered survivors, and under Khepri a majority confirms it.
 * Read-only, so it runs on every attempt; its output is the cluster's health as left (and a
 * warning per member that is not clustered).
 */
export const verifySurvivors: Step<'survivors', SurvivorsOutput> = {
  id: 'rabbit:verify-survivors',
  title: 'Verify the cluster as left: the other nodes healthy',
  skippedDetail: 'never skipped',
  outputSchema: SurvivorsOutput,

  plan(cluster, target) {
    const first = cluster.hosts.find((h) => h.name !== target?.name);
    return first
      ? [
          {
            step: this.id,
            host: first.name,
            command: clusterStatusCommand().text,
            when: 'first survivor that answers (seed first)',
          },
          ...planBeyondStatus(this.id, first.name),
        ]
      : [];
  },

  check() {
    return Promise.resolve(['survivors' as const]);
  },

  async run(ctx) {
    const target = targetOf(ctx);
    const survivors = survivorsOf(ctx);
    const { health, unclustered, status, reader } = await survivorsHealth(ctx, survivors);
    if (health.headline !== 'healthy') {
      throw new WarrenError(
        'verify.failed',
        `the rest of ${ctx.cluster.cluster.name} is ${health.headline}: ${health.problems.join('; ')}`,
        {
          ...(health.readFrom ? { host: health.readFrom } : {}),
          retryable: true,
          hint: `Run warren status ${ctx.cluster.cluster.name}; fix the node named, then run the operation again.`,
        },
      );
    }
    const clusteredHosts = survivors.filter((h) => !unclustered.includes(h.name));
    await verifyBeyondStatus(ctx, {
      nodes: clusteredHosts.map(nodeNameOf),
      reader,
      from: clusteredHosts,
      status,
      what: `${target.name} leaving ${ctx.cluster.cluster.name}`,
    });
    const clustered = clusteredHosts.map((h) => h.name);
    const warnings = unclustered.map(
      (h) =>
        `${h} counts as a member of ${ctx.cluster.cluster.name} but is not ` +
        `clustered (reset earlier?): run cluster create to join it again, or ` +
        `node remove it`,
    );
    return {
      detail: `${clustered.join(', ')}: running disk nodes of one cluster without ${nodeNameOf(target)}`,
      output: { health, warnings },
    };
  },
};
