import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError } from '../errors.js';
import { evaluateHealth } from '../rabbit/cluster-status.js';
import { ClusterHealth } from '../rabbit/cluster-status.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import { clusterStatusCommand, listVhostsCommand } from '../rabbit/commands.js';
import { metadataStoreOfStatus, metadataStoreStatusCommand } from '../rabbit/metadata-store.js';
import {
  describeDrift,
  hasQuorumQueues,
  listQueueMembersCommand,
  memberDrift,
  readQuorumMembers,
} from '../rabbit/quorum-queues.js';
import { pauseUnlessCancelled } from '../ssh/cancellation.js';
import { confirmMembership } from './confirm-membership.js';
import { settledQuorumMembers } from './quorum-members.js';
import { foundBy } from './step.js';
import { clusterStatusOf } from './membership.js';
import type { PlannedCommand, Step, StepContext } from './step.js';

/** A node that has just run start_app can take a few seconds to show in running_nodes. */
const SETTLE_DEADLINE_MS = 60_000;
const SETTLE_INTERVAL_MS = 1_000;

export function expectedNodes(ctx: Pick<StepContext, 'cluster'>): Map<string, string> {
  return new Map(ctx.cluster.hosts.map((h) => [nodeNameOf(h), h.name]));
}

/** Reads cluster_status on the seed until the cluster is healthy or the deadline passes; with the last status read. */
async function awaitHealthyStatus(
  ctx: StepContext,
  deadlineMs: number,
): Promise<{ health: ClusterHealth; status: ClusterStatus }> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const status = await clusterStatusOf(ctx, ctx.cluster.seed);
    const health = evaluateHealth(ctx.cluster.cluster.name, status, expectedNodes(ctx), ctx.cluster.seed.name);
    if (health.headline === 'healthy' || Date.now() >= deadline) return { health, status };
    await pauseUnlessCancelled(
      ctx.signal,
      SETTLE_INTERVAL_MS,
      `reading ${ctx.cluster.cluster.name}'s cluster_status again`,
    );
  }
}

/** Reads cluster_status on the seed until the cluster is healthy or the deadline passes. */
export async function awaitHealthy(ctx: StepContext, deadlineMs = SETTLE_DEADLINE_MS): Promise<ClusterHealth> {
  return (await awaitHealthyStatus(ctx, deadlineMs)).health;
}

/**
 * The checks a healthy cluster_status cannot make: under Khepri a majority of the metadata store
 * confirms the members (cluster_status answers 0 in a minority), and every quorum queue has a
 * replica on exactly the cluster's nodes (3.8+). `nodes` are the members expected; `reader` the host read from.
 */
export async function verifyBeyondStatus(
  ctx: StepContext,
  request: { nodes: string[]; reader: Host; from: readonly Host[]; status: ClusterStatus; what: string },
): Promise<void> {
  await confirmMembership(ctx, {
    expected: request.nodes,
    from: request.from,
    store: metadataStoreOfStatus(request.status),
    what: request.what,
    seen: { host: request.reader, status: request.status },
  });
  if (
    !hasQuorumQueues(
      request.status.versions?.[nodeNameOf(request.reader)]?.rabbitmq_version ??
        ctx.facts.get(request.reader.name)?.rabbitmqVersion,
    )
  )
    return;
  // quorum-members read (or made) exactly these members on this node a moment ago, in this attempt: not read twice
  const settled = foundBy(ctx, settledQuorumMembers);
  if (settled?.reader === request.reader.name && sameMembers(settled.nodes, request.nodes)) return;
  const drift = memberDrift(await readQuorumMembers(ctx.shells, request.reader), request.nodes);
  if (drift.length > 0) {
    throw new WarrenError(
      'verify.failed',
      `${ctx.cluster.cluster.name}: quorum queue members are not the ` +
        `cluster's nodes: ${describeDrift(drift, 5).join('; ')}`,
      {
        host: request.reader.name,
        retryable: true,
        hint:
          `Run the operation again: its quorum-members step grows replicas onto ` +
          `running nodes and shrinks them off nodes that left.`,
      },
    );
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/** What verifyBeyondStatus may run on the node it reads from, for dry runs. */
export function planBeyondStatus(stepId: string, host: string): PlannedCommand[] {
  return [
    {
      step: stepId,
      host,
      command: metadataStoreStatusCommand().text,
      when: 'the cluster uses Khepri (until a majority confirms the members)',
    },
    { step: stepId, host, command: listVhostsCommand().text, when: 'RabbitMQ 3.8 or later' },
    { step: stepId, host, command: listQueueMembersCommand('<vhost>').text, when: 'for each vhost' },
  ];
}

/**
 * Passes when running nodes = disk nodes = the expected set, with no alarms and no partitions,
 * a majority of the metadata store confirms it (Khepri), and every quorum queue's members are the
 * expected nodes. Read-only, so it runs on every attempt; its output is the cluster's health.
 */
export const verify: Step<'seed', ClusterHealth> = {
  id: 'rabbit:verify',
  title: 'Verify cluster_status',
  skippedDetail: 'never skipped',
  outputSchema: ClusterHealth,

  plan(cluster) {
    return [
      { step: this.id, host: cluster.seed.name, command: clusterStatusCommand().text },
      ...planBeyondStatus(this.id, cluster.seed.name),
    ];
  },

  check() {
    return Promise.resolve(['seed' as const]);
  },

  async run(ctx) {
    const { health, status } = await awaitHealthyStatus(ctx, SETTLE_DEADLINE_MS);
    if (health.headline !== 'healthy') {
      throw new WarrenError(
        'verify.failed',
        `cluster ${ctx.cluster.cluster.name} is ${health.headline}: ${health.problems.join('; ')}`,
        {
          host: ctx.cluster.seed.name,
          retryable: true,
          hint: 'Run `warren status` to see each node; fix the node named and run the create again.',
        },
      );
    }
    await verifyBeyondStatus(ctx, {
      nodes: [...expectedNodes(ctx).keys()],
      reader: ctx.cluster.seed,
      from: [ctx.cluster.seed, ...ctx.cluster.joiners],
      status,
      what: `the membership of ${ctx.cluster.cluster.name}`,
    });
    const running = health.nodes.filter((n) => n.running).length;
    return { detail: `${running} running disk nodes, no alarms, no partitions`, output: health };
  },
};
