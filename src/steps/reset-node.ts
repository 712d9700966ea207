import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import type { ClusterStatus } from '../rabbit/cluster-status.js';
import { clusterStatusCommand, resetCommand, startAppCommand, stopAppCommand } from '../rabbit/commands.js';
import { metadataStoreOfStatus } from '../rabbit/metadata-store.js';
import type { MetadataStore } from '../rabbit/metadata-store.js';
import { listQueueNames, listVhosts, membersOf, readNodeStatus } from '../rabbit/queries.js';
import { confirmMembership, hostsAmong, planConfirmation, runningPeer, withoutNode } from './confirm-membership.js';
import { NodeOutcomes, timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

/** How a node stands before a reset: its app runs, its VM runs without the app, or no VM. */
export type NodeRunState = { kind: 'running'; status: ClusterStatus } | { kind: 'app-stopped' } | { kind: 'vm-down' };

export async function nodeRunState(ctx: StepContext, host: Host): Promise<NodeRunState> {
  const status = await readNodeStatus(ctx.shells, host);
  if (status === 'vm-down') return { kind: 'vm-down' };
  if (status === 'app-stopped') return { kind: 'app-stopped' };
  return { kind: 'running', status };
}

/**
 * A blank single node, as `reset` + `start_app` leave it: its cluster is itself alone, its only
 * vhost is `/`, and `/` holds no queues (measured on 3.10.8: a reset node lists vhost `/` and user
 * guest only). Anything else still holds something a reset would destroy.
 */
export async function isBlankSingle(ctx: StepContext, host: Host, status: ClusterStatus): Promise<boolean> {
  const self = nodeNameOf(host);
  const members = membersOf(status);
  if (members.length !== 1 || members[0] !== self) return false;
  const vhosts = await listVhosts(ctx.shells, host);
  if (vhosts.length !== 1 || vhosts[0] !== '/') return false;
  return (await listQueueNames(ctx.shells, host, '/')).length === 0;
}

/**
 * stop_app (unless already stopped: a dead worker may have left it so), reset, then start_app
 * when `startAfter`. A failed reset starts the app again so the node is not left down, and fails
 * with reset.failed carrying the evidence.
 */
export async function resetHost(ctx: StepContext, host: Host, appRunning: boolean, startAfter: boolean): Promise<void> {
  const shell = await ctx.shells.shell(host.name);
  if (appRunning) await shell.run(stopAppCommand(), { timeoutMs: 120_000 });
  try {
    await shell.run(resetCommand(), { timeoutMs: 300_000 });
  } catch (error) {
    await shell.run(startAppCommand(), { timeoutMs: 300_000 }).catch((restartError: unknown) => {
      ctx.logger.warn(
        { host: host.name, code: isWarrenError(restartError) ? restartError.code : 'unknown' },
        'start_app after a failed reset failed too',
      );
    });
    if (isWarrenError(error) && error.code === 'command.failed') {
      throw new WarrenError('reset.failed', `rabbitmqctl reset failed on ${host.name}`, {
        retryable: error.retryable,
        ...(error.evidence ? { evidence: error.evidence } : {}),
        hint: /no_running_cluster_nodes/.test(error.evidence?.stderr ?? '')
          ? `No other member of the cluster runs, so ${host.name} cannot leave it: ` +
            `start another node first (its app was started again).`
          : `Check ${host.name}'s RabbitMQ log; its app was started again, so the cluster is as before.`,
      });
    }
    throw error;
  }
  if (startAfter) await shell.run(startAppCommand(), { timeoutMs: 300_000 });
}

/**
 * What a reset still needs, with the members before it and the store (from the node's own view, or a peer's when its
 * app is stopped).
 */
type PendingReset = { host: Host; appRunning: boolean; before?: string[]; store?: MetadataStore };

/**
 * node.reset: the node leaves the cluster and comes back as a blank single node (stop_app, reset,
 * start_app). Measured on 3.10.8: the peers' cluster_status no longer lists it afterwards, without
 * a forget_cluster_node. Skipped when the node is already blank and single; a node left with its
 * app stopped (a worker died mid-reset) is reset and started from there.
 */
/**
 * Resets one node, left started as a blank single node, and waits until the members that stay
 * (`expected`) no longer list it: under Khepri the reset counts once a majority of them agrees.
 */
export async function resetAndConfirm(
  ctx: StepContext,
  host: Host,
  appRunning: boolean,
  expected: string[],
  store: MetadataStore | undefined,
): Promise<void> {
  await timedOnHost(
    ctx,
    host.name,
    async () => {
      await resetHost(ctx, host, appRunning, true);
      await confirmMembership(ctx, {
        expected,
        from: hostsAmong(ctx, expected),
        ...(store ? { store } : {}),
        what: `${host.name} leaving ${ctx.cluster.cluster.name}`,
      });
    },
    () => 'reset: a blank single node',
  );
}

export const resetNode: Step<PendingReset, NodeOutcomes> = {
  id: 'rabbit:reset-node',
  title: 'Reset the node: stop_app, reset, start_app',
  skippedDetail: 'the node is already a blank single node',
  outputSchema: NodeOutcomes,

  plan(cluster, target) {
    if (!target) return [];
    return [
      { step: this.id, host: target.name, command: clusterStatusCommand().text },
      {
        step: this.id,
        host: target.name,
        command: stopAppCommand().text,
        when: 'its app runs and it is not already a blank single node',
      },
      { step: this.id, host: target.name, command: resetCommand().text, when: 'it is not already a blank single node' },
      { step: this.id, host: target.name, command: startAppCommand().text, when: 'it was reset' },
      ...planConfirmation(this.id, (cluster.seed.name === target.name ? cluster.joiners[0] : cluster.seed)?.name),
    ];
  },

  async check(ctx) {
    const host = targetOf(ctx);
    const state = await nodeRunState(ctx, host);
    if (state.kind === 'vm-down') {
      throw new WarrenError('status.unreachable', `RabbitMQ is not running on ${host.name}: it cannot be reset`, {
        host: host.name,
        hint: `Start RabbitMQ on ${host.name} and run the reset again, or use node remove.`,
      });
    }
    if (state.kind === 'running' && (await isBlankSingle(ctx, host, state.status))) return [];
    const view =
      state.kind === 'running' ? state.status : (await runningPeer(ctx, host).catch(() => undefined))?.status;
    return [
      {
        host,
        appRunning: state.kind === 'running',
        ...(view ? { before: membersOf(view), store: metadataStoreOfStatus(view) } : {}),
      },
    ];
  },

  async run(ctx, pending) {
    for (const { host, appRunning, before, store } of pending) {
      const expected = withoutNode(before ?? ctx.cluster.hosts.map(nodeNameOf), host);
      await resetAndConfirm(ctx, host, appRunning, expected, store);
    }
    return {
      detail: `${pending.map((p) => p.host.name).join(', ')} reset: a blank single node`,
      output: { outcomes: pending.map((p) => ({ host: p.host.name, outcome: 'reset: a blank single node, running' })) },
    };
  },
};

/** The node a node.* operation acts on; a job without one is a bug in the worker, not the operator's. */
export function targetOf(ctx: StepContext): Host {
  if (!ctx.target) throw new WarrenError('job.invalid', 'this step needs the node the operation acts on');
  return ctx.target;
}
