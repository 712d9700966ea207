import { nodeNameOf } from '../config/load.js';
import { toWarrenError } from '../errors.js';
import {
  nodeDataStateCommand,
  resetCommand,
  shutdownCommand,
  stopAppCommand,
  wipeNodeDataCommand,
} from '../rabbit/commands.js';
import { isBlankSingle, nodeRunState, resetHost, targetOf } from './reset-node.js';
import { NodeOutcomes, timedOnHost } from './step.js';
import type { Step, StepContext } from './step.js';

/** What the removed node still needs: a reset (VM up), an offline wipe (VM down), a shutdown, or nothing reachable. */
type PendingWipe =
  | { kind: 'reset'; appRunning: boolean }
  | { kind: 'shutdown' }
  | { kind: 'offline-wipe' }
  | { kind: 'unreachable'; reason: string };

const UNREACHABLE_WARNING = (host: string) =>
  `${host} did not answer: it was forgotten on the survivors only. ` +
  `Before it is started again, delete its data ` +
  `(/var/lib/rabbitmq/mnesia) or it fails to start with ` +
  `inconsistent_cluster; then node add can bring it back.`;

async function pendingFor(ctx: StepContext): Promise<PendingWipe[]> {
  const host = targetOf(ctx);
  const state = await nodeRunState(ctx, host);
  if (state.kind === 'vm-down') {
    const shell = await ctx.shells.shell(host.name);
    const data = (await shell.run(nodeDataStateCommand(nodeNameOf(host)))).stdout.trim();
    return data === 'data' ? [{ kind: 'offline-wipe' }] : [];
  }
  if (state.kind === 'running' && (await isBlankSingle(ctx, host, state.status))) return [{ kind: 'shutdown' }];
  return [{ kind: 'reset', appRunning: state.kind === 'running' }];
}

/**
 * node.remove, after the survivors forgot it: the removed node is reset so it cannot rejoin by
 * itself, then shut down, and left so: a removed node that kept running would be an empty broker
 * that clients still listing it could publish into. With its VM down, its data directory is
 * deleted instead (the offline equivalent of reset, measured: it then starts blank). A host that
 * does not answer is left alone with a warning: it must be wiped before it runs again.
 */
export const wipeNode: Step<PendingWipe, NodeOutcomes> = {
  id: 'rabbit:wipe-node',
  title: 'Reset the removed node and leave it stopped',
  skippedDetail: 'the node is already blank and stopped',
  outputSchema: NodeOutcomes,

  plan(_cluster, target) {
    if (!target) return [];
    const node = nodeNameOf(target);
    return [
      { step: this.id, host: target.name, command: stopAppCommand().text, when: 'its app runs' },
      {
        step: this.id,
        host: target.name,
        command: resetCommand().text,
        when: 'its Erlang VM runs and it is not blank',
      },
      { step: this.id, host: target.name, command: shutdownCommand().text, when: 'its Erlang VM runs' },
      { step: this.id, host: target.name, command: nodeDataStateCommand(node).text, when: 'its Erlang VM is down' },
      {
        step: this.id,
        host: target.name,
        command: wipeNodeDataCommand(node).text,
        when: 'its Erlang VM is down and its data directory is not empty',
      },
    ];
  },

  async check(ctx) {
    try {
      return await pendingFor(ctx);
    } catch (thrown) {
      const error = toWarrenError(thrown);
      if (!error.code.startsWith('ssh.')) throw error;
      return [{ kind: 'unreachable', reason: error.message }];
    }
  },

  async run(ctx, [pending]) {
    const host = targetOf(ctx);
    if (!pending || pending.kind === 'unreachable') {
      const warning = UNREACHABLE_WARNING(host.name);
      await ctx.report({ host: host.name, state: 'skipped', detail: warning });
      return {
        detail: warning,
        output: { outcomes: [{ host: host.name, outcome: 'forgotten; not reset (unreachable)' }], warnings: [warning] },
      };
    }
    const outcome = await timedOnHost(
      ctx,
      host.name,
      async () => {
        const shell = await ctx.shells.shell(host.name);
        if (pending.kind === 'offline-wipe') {
          await shell.run(wipeNodeDataCommand(nodeNameOf(host)));
          return 'data directory wiped (RabbitMQ was down); left stopped';
        }
        if (pending.kind === 'reset') await resetHost(ctx, host, pending.appRunning, false);
        // Exit 69: the VM is already gone, which is where this leaves it.
        await shell.run(shutdownCommand(), { okExitCodes: [69], timeoutMs: 120_000 });
        return 'reset and stopped';
      },
      (detail) => detail,
    );
    return { detail: `${host.name}: ${outcome}`, output: { outcomes: [{ host: host.name, outcome }] } };
  },
};
