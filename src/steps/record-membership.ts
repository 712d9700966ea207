import { targetOf } from './reset-node.js';
import type { Step } from './step.js';

/**
 * Records what the operation changed in the cluster's membership (added, removed, or cleared by a
 * teardown), through the worker's store: steps never touch Redis. Every record is idempotent (set
 * operations), so the step simply runs; it sends no command to any host.
 */
export function recordMembership(change: 'added' | 'removed' | 'cleared'): Step<'record'> {
  return {
    id: 'rabbit:record-membership',
    title: change === 'cleared' ? 'Forget the membership changes of the cluster' : `Record the node as ${change}`,
    skippedDetail: 'never skipped',

    plan() {
      return [];
    },

    check() {
      return Promise.resolve(['record' as const]);
    },

    async run(ctx) {
      if (change === 'cleared') {
        await ctx.membership.clear();
        return {
          detail:
            `${ctx.cluster.cluster.name}: membership changes cleared (a later ` + `create builds what the config says)`,
        };
      }
      const host = targetOf(ctx);
      await (change === 'added' ? ctx.membership.recordAdded(host.name) : ctx.membership.recordRemoved(host.name));
      return { detail: `${host.name} recorded as ${change}` };
    },
  };
}
