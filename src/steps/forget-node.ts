import { nodeNameOf } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { WarrenError, isWarrenError } from '../errors.js';
import { NOT_A_CLUSTER_NODE, clusterStatusCommand, forgetClusterNodeCommand } from '../rabbit/commands.js';
import { clusterStatusIfRunning } from './membership.js';
import { targetOf } from './reset-node.js';
import { timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

/** The first surviving member whose app runs (seed first), with its view of the cluster. */
async function runningPeer(ctx: StepContext, target: Host) {
  for (const host of [ctx.cluster.seed, ...ctx.cluster.joiners]) {
    if (host.name === target.name) continue;
    const status = await clusterStatusIfRunning(ctx, host).catch(() => 'unreachable' as const);
    if (typeof status !== 'string') return { host, status };
  }
  throw new WarrenError('status.unreachable', `no surviving member of ${ctx.cluster.cluster.name} runs: nobody can forget ${target.name}`, {
    retryable: true,
    hint: `Start RabbitMQ on another node of ${ctx.cluster.cluster.name} and run the remove again.`,
  });
}

/**
 * node.remove: a running peer forgets the node (forget_cluster_node). Skipped when the peer's
 * cluster_status no longer lists it; "not_a_cluster_node" (exit 69 on 3.10.8, when a previous
 * attempt got there first) is success, any other failure is forget.failed.
 */
export const forgetNode: Step<Host> = {
  id: 'rabbit:forget-node',
  title: 'Forget the node on a running peer',
  skippedDetail: 'the survivors no longer list the node',

  plan(cluster, target) {
    if (!target) return [];
    const peer = cluster.seed.name === target.name ? cluster.joiners[0] : cluster.seed;
    if (!peer) return [];
    return [
      { step: this.id, host: peer.name, command: clusterStatusCommand().text, when: 'first running member other than the node (seed first)' },
      { step: this.id, host: peer.name, command: forgetClusterNodeCommand(nodeNameOf(target)).text, when: `the peer still lists ${nodeNameOf(target)}` },
    ];
  },

  async check(ctx) {
    const target = targetOf(ctx);
    const { host, status } = await runningPeer(ctx, target);
    const members = [...status.disk_nodes, ...(status.ram_nodes ?? [])];
    return members.includes(nodeNameOf(target)) ? [host] : [];
  },

  async run(ctx, [peer]) {
    const target = targetOf(ctx);
    const node = nodeNameOf(target);
    if (!peer) return { detail: 'nothing to forget' };
    await timedOnHost(
      ctx,
      peer.name,
      async () => {
        const shell = await ctx.shells.shell(peer.name);
        try {
          const result = await shell.run(forgetClusterNodeCommand(node), { timeoutMs: 120_000, okExitCodes: [69] });
          if (result.code === 69 && !NOT_A_CLUSTER_NODE.test(result.stderr)) {
            throw new WarrenError('forget.failed', `${peer.name} could not forget ${node}`, {
              retryable: true,
              evidence: { host: peer.name, command: forgetClusterNodeCommand(node).text, exitCode: 69, stderr: ctx.shells.redactor.redact(result.stderr).slice(-4000) },
              hint: /must be stopped/.test(result.stderr) ? `${node}'s app runs again: stop it (rabbitmqctl stop_app on ${target.name}) and run the remove again.` : `Check that ${peer.name} runs and reaches ${target.name}'s peers; the job retries.`,
            });
          }
        } catch (error) {
          if (isWarrenError(error) && error.code === 'command.failed') {
            throw new WarrenError('forget.failed', `${peer.name} could not forget ${node}`, { retryable: error.retryable, ...(error.evidence ? { evidence: error.evidence } : {}), hint: `Run rabbitmqctl forget_cluster_node ${node} on ${peer.name} by hand to see why.` });
          }
          throw error;
        }
      },
      () => `forgot ${node}`,
    );
    return { detail: `${peer.name} forgot ${node}` };
  },
};
