import { toWarrenError } from '../errors.js';
import { stopAppCommand } from '../rabbit/commands.js';
import { nodeRunState, targetOf } from './reset-node.js';
import { timedOnHost } from './step.js';
import type { Step } from './step.js';

/**
 * node.remove, first change: the target's RabbitMQ app stopped, so its peers may forget it
 * (forget_cluster_node refuses a running node: exit 69, measured on 3.10.8). Skipped when the app
 * is already stopped, the VM is down, or the host does not answer (a dead node is removed from the
 * survivors' side only).
 */
export const stopNode: Step<'stop'> = {
  id: 'rabbit:stop-node',
  title: 'Stop the RabbitMQ app on the node',
  skippedDetail: 'the app is not running there (stopped, or the host does not answer)',

  plan(_cluster, target) {
    return target ? [{ step: this.id, host: target.name, command: stopAppCommand().text, when: 'its app runs' }] : [];
  },

  async check(ctx) {
    try {
      return (await nodeRunState(ctx, targetOf(ctx))).kind === 'running' ? ['stop'] : [];
    } catch (thrown) {
      const error = toWarrenError(thrown);
      if (!error.code.startsWith('ssh.')) throw error;
      ctx.logger.warn(
        { host: ctx.target?.name, code: error.code },
        'node to remove does not answer: it is forgotten on the survivors only',
      );
      return [];
    }
  },

  async run(ctx) {
    const host = targetOf(ctx);
    await timedOnHost(
      ctx,
      host.name,
      async () => (await ctx.shells.shell(host.name)).run(stopAppCommand(), { timeoutMs: 120_000 }),
      () => 'app stopped',
    );
    return { detail: `${host.name}: app stopped` };
  },
};
