import { WarrenError } from '../errors.js';
import { clusterStatusCommand, resetCommand, startAppCommand, stopAppCommand } from '../rabbit/commands.js';
import { nodeNameOf } from '../config/load.js';
import { metadataStoreOfStatus } from '../rabbit/metadata-store.js';
import type { MetadataStore } from '../rabbit/metadata-store.js';
import { planConfirmation, withoutNode } from './confirm-membership.js';
import { isBlankSingle, nodeRunState, resetAndConfirm } from './reset-node.js';
import type { PlannedCommand, Step } from './step.js';
import type { Host } from '../config/schema.js';
import { membersOf } from '../rabbit/queries.js';
import { NodeOutcomes } from './step.js';

type PendingTeardown = { host: Host; appRunning: boolean; before?: string[]; store?: MetadataStore };

/**
 * cluster.teardown: every node reset to a blank single node, one at a time, joiners first and
 * the seed last: a node leaves its cluster by telling a running peer (measured on 3.10.8: reset
 * fails with no_running_cluster_nodes when no other member runs), so the seed stays up until it is
 * alone. Nodes already blank are skipped; each is left running, blank. Under Khepri each leave
 * counts only once a majority of the nodes left confirms it.
 */
export const teardown: Step<PendingTeardown, NodeOutcomes> = {
  id: 'rabbit:teardown',
  title: 'Reset every node, joiners first, the seed last',
  skippedDetail: 'every node is already a blank single node',
  outputSchema: NodeOutcomes,

  plan(cluster) {
    return [...cluster.joiners, cluster.seed].flatMap((host): PlannedCommand[] => [
      { step: this.id, host: host.name, command: clusterStatusCommand().text },
      {
        step: this.id,
        host: host.name,
        command: stopAppCommand().text,
        when: 'its app runs and it is not a blank single node',
      },
      {
        step: this.id,
        host: host.name,
        command: resetCommand().text,
        when: 'it is not a blank single node (one node at a time)',
      },
      { step: this.id, host: host.name, command: startAppCommand().text, when: 'it was reset' },
      ...(host === cluster.seed ? [] : planConfirmation(this.id, cluster.seed.name)),
    ]);
  },

  async check(ctx) {
    const pending: PendingTeardown[] = [];
    for (const host of [...ctx.cluster.joiners, ctx.cluster.seed]) {
      const state = await nodeRunState(ctx, host);
      if (state.kind === 'vm-down') {
        throw new WarrenError('status.unreachable', `RabbitMQ is not running on ${host.name}: it cannot be reset`, {
          host: host.name,
          hint: `Start RabbitMQ on ${host.name} (or take it out with node remove) and run the teardown again.`,
        });
      }
      if (state.kind === 'running' && (await isBlankSingle(ctx, host, state.status))) continue;
      pending.push({
        host,
        appRunning: state.kind === 'running',
        ...(state.kind === 'running'
          ? { before: membersOf(state.status), store: metadataStoreOfStatus(state.status) }
          : {}),
      });
    }
    return pending;
  },

  async run(ctx, pending) {
    const gone = new Set<string>();
    for (const { host, appRunning, before, store } of pending) {
      // The members left once this node and those reset before it are gone; the seed, last, leaves none.
      const expected = withoutNode(before ?? ctx.cluster.hosts.map(nodeNameOf), host).filter((n) => !gone.has(n));
      await resetAndConfirm(ctx, host, appRunning, expected, store);
      gone.add(nodeNameOf(host));
    }
    return {
      detail: `${pending.map((p) => p.host.name).join(', ')} reset`,
      output: { outcomes: pending.map((p) => ({ host: p.host.name, outcome: 'reset: a blank single node, running' })) },
    };
  },
};
