import { z } from 'zod';
import { WarrenError } from '../errors.js';
import { describeQueue } from '../gates/migration.js';
import { clusterStatusCommand } from '../rabbit/commands.js';
import { queueKey, readMigrationFacts, readVhostQueues } from '../rabbit/migration-queries.js';
import { readNodeStatus } from '../rabbit/queries.js';
import {
  POLICY_ABSENT_EXIT,
  ShownQueue,
  buildMigrationPlan,
  classicQueues,
  clearPolicyCommand,
  deleteQueueCommand,
  listVhostDefaultsCommand,
  listVhostPoliciesCommand,
  listVhostQueuesCommand,
  rewritePolicyCommand,
  setVhostQuorumDefaultCommand,
} from '../rabbit/quorum-migration.js';
import type { MigrationPlan, PolicyChange } from '../rabbit/quorum-migration.js';
import type { Step, StepContext } from './step.js';

/**
 * The steps of the move to quorum queues, each run on the seed (the gates found every member
 * running; policies, vhost metadata and queue deletions are cluster-wide). Each reads the cluster
 * again in its check, so a resumed job does only what is still to do.
 */

/** The plan as the cluster is now, read from the seed: only what `read` asks (each read is a rabbitmqctl call). */
async function readPlan(ctx: StepContext, read: { policies: boolean; queues: boolean }): Promise<MigrationPlan> {
  const seed = ctx.cluster.seed;
  const status = await readNodeStatus(ctx.shells, seed);
  if (typeof status === 'string')
    throw new WarrenError('status.unreachable', `RabbitMQ on ${seed.name} is not running (${status})`, {
      host: seed.name,
      hint: `Start it (warren status ${ctx.cluster.cluster.name}), then run the migration again.`,
    });
  return buildMigrationPlan(await readMigrationFacts(ctx.shells, seed, ctx.cluster.cluster.name, status, read));
}

const readCommands = (step: string, host: string) => [
  { step, host, command: clusterStatusCommand().text },
  { step, host, command: listVhostDefaultsCommand().text },
  { step, host, command: listVhostPoliciesCommand('<vhost>').text, when: 'for each vhost' },
];

/** Removes classic mirroring: a policy of only ha-* keys is cleared, one with other keys is set again without them. */
export const removeMirroringPolicies: Step<PolicyChange> = {
  id: 'rabbit:remove-mirroring-policies',
  title: 'Remove the classic mirroring policies (ha-mode)',
  skippedDetail: 'no policy sets ha-mode',

  plan(cluster) {
    const host = cluster.seed.name;
    return [
      ...readCommands(this.id, host),
      {
        step: this.id,
        host,
        command: clearPolicyCommand('<vhost>', '<policy>').text,
        when: 'for each policy that holds only ha-* keys',
      },
      {
        step: this.id,
        host,
        command: rewritePolicyCommand({
          kind: 'rewrite',
          vhost: '<vhost>',
          name: '<policy>',
          pattern: '<pattern>',
          removed: [],
          priority: 0,
          applyTo: '<apply-to>',
          definition: { '<key>': '<value without ha-*>' },
        }).text,
        when: 'for each policy that holds ha-* keys and others (set again without the ha-* keys)',
      },
    ];
  },

  async check(ctx) {
    return (await readPlan(ctx, { policies: true, queues: false })).vhosts.flatMap((v) => v.policies);
  },

  async run(ctx, pending) {
    const shell = await ctx.shells.shell(ctx.cluster.seed.name);
    for (const change of pending) {
      if (change.kind === 'clear')
        await shell.run(clearPolicyCommand(change.vhost, change.name), { okExitCodes: [POLICY_ABSENT_EXIT] });
      else await shell.run(rewritePolicyCommand(change));
    }
    return {
      detail: pending
        .map((c) => `${c.vhost} ${c.name}: ${c.kind === 'clear' ? 'cleared' : `${c.removed.join(', ')} removed`}`)
        .join('; '),
    };
  },
};

/** Quorum as every vhost's default queue type (queues declared without x-queue-type become quorum queues). */
export const quorumDefaultQueueType: Step<{ vhost: string; version: string }> = {
  id: 'rabbit:quorum-default-queue-type',
  title: "Make quorum every vhost's default queue type",
  skippedDetail: 'every vhost defaults to quorum already',

  plan(cluster) {
    const host = cluster.seed.name;
    return [
      { step: this.id, host, command: listVhostDefaultsCommand().text },
      {
        step: this.id,
        host,
        command: setVhostQuorumDefaultCommand('<vhost>', '3.11').text,
        when: 'RabbitMQ 3.11 or later, for each vhost whose default queue type is not quorum',
      },
      {
        step: this.id,
        host,
        command: setVhostQuorumDefaultCommand('<vhost>', '3.10').text,
        when: 'RabbitMQ 3.10 (no update_vhost_metadata), for each vhost whose default queue type is not quorum',
      },
    ];
  },

  async check(ctx) {
    const plan = await readPlan(ctx, { policies: false, queues: false });
    return plan.vhosts.filter((v) => v.setDefault).map((v) => ({ vhost: v.vhost, version: plan.rabbitmqVersion }));
  },

  async run(ctx, pending) {
    const shell = await ctx.shells.shell(ctx.cluster.seed.name);
    for (const item of pending) await shell.run(setVhostQuorumDefaultCommand(item.vhost, item.version));
    return { detail: `default queue type quorum on ${pending.map((p) => p.vhost).join(', ')}` };
  },
};

/** What the classic-queue report returns: the classic queues that remain, for the result. */
export const RemainingQueues = z.object({
  queues: z.array(ShownQueue),
  warnings: z.array(z.string()),
});
export type RemainingQueues = z.infer<typeof RemainingQueues>;

/** Lists the classic queues that remain after the migration (read-only; deleting them is another request). */
export const listRemainingClassicQueues: Step<'read', RemainingQueues> = {
  id: 'rabbit:list-classic-queues',
  title: 'List the classic queues that remain',
  skippedDetail: 'never skipped',
  outputSchema: RemainingQueues,

  plan(cluster) {
    return [
      {
        step: this.id,
        host: cluster.seed.name,
        command: listVhostQueuesCommand('<vhost>').text,
        when: 'for each vhost',
      },
    ];
  },

  check() {
    return Promise.resolve(['read' as const]);
  },

  async run(ctx) {
    const plan = await readPlan(ctx, { policies: false, queues: true });
    const queues = plan.vhosts.flatMap((v) => v.classicQueues);
    const warnings =
      queues.length === 0
        ? []
        : [
            `${queues.length} classic queue(s) remain (not deleted): ` +
              queues.slice(0, 50).map(describeQueue).join(', ') +
              `${queues.length > 50 ? ` and ${queues.length - 50} more` : ''}. ` +
              `Stop their consumers, set the oslo.messaging options, then delete them with ` +
              `cluster delete-classic-queues ${ctx.cluster.cluster.name} (asks for approval again).`,
          ];
    return {
      detail: queues.length === 0 ? 'no classic queue remains' : `${queues.length} classic queue(s) remain`,
      output: { queues, warnings },
    };
  },
};

/** What became of each shown queue: deleted, or kept and why. */
export const DeletedQueues = z.object({
  deleted: z.array(ShownQueue),
  kept: z.array(z.object({ queue: ShownQueue, why: z.string() })),
  /** Classic queues that were not shown (appeared since, or had consumers then): never deleted. */
  appeared: z.array(ShownQueue),
  warnings: z.array(z.string()),
});
export type DeletedQueues = z.infer<typeof DeletedQueues>;

type Verdict = { queue: ShownQueue; delete: true } | { queue: ShownQueue; delete: false; why: string };

/** Why a shown queue is not deleted now, judged against what the cluster holds now; undefined: delete it. */
export function whyKept(shown: ShownQueue, now: ShownQueue | undefined): string | undefined {
  if (!now) return 'gone (deleted since, or no longer classic)';
  if (now.consumers > 0) return `has ${now.consumers} consumer(s) now`;
  if (now.messages > shown.messages) return `got messages since it was shown (${shown.messages} -> ${now.messages})`;
  return undefined;
}

/** The classic queues of the shown queues' vhosts, now, by key. */
async function readNow(ctx: StepContext, shown: readonly ShownQueue[]): Promise<Map<string, ShownQueue>> {
  const vhosts = [...new Set(shown.map((q) => q.vhost))];
  const now = new Map<string, ShownQueue>();
  for (const vhost of vhosts)
    for (const q of classicQueues(vhost, await readVhostQueues(ctx.shells, ctx.cluster.seed, vhost)))
      now.set(queueKey(q), q);
  return now;
}

/**
 * Deletes exactly the classic queues the request showed (ctx.options.classicQueues), each only if it has no consumer
 * and no more messages than shown; a queue that changed since, or appeared since, is kept and named in the result.
 */
export const deleteClassicQueues: Step<Verdict, DeletedQueues> = {
  id: 'rabbit:delete-classic-queues',
  title: 'Delete the classic queues that were shown',
  skippedDetail: 'no shown queue left to delete',
  outputSchema: DeletedQueues,

  plan(cluster) {
    const host = cluster.seed.name;
    return [
      { step: this.id, host, command: listVhostQueuesCommand('<vhost>').text, when: "for each shown queue's vhost" },
      {
        step: this.id,
        host,
        command: deleteQueueCommand({ vhost: '<vhost>', name: '<queue>', messages: 0, consumers: 0 }).text,
        when: 'for each shown queue that has no consumer and no more messages than shown',
      },
    ];
  },

  async check(ctx) {
    const shown = ctx.options.classicQueues;
    if (shown === undefined)
      throw new WarrenError('job.invalid', 'this delete-classic-queues job names no queues: nothing is deleted', {
        hint: `Ask again: cluster delete-classic-queues ${ctx.cluster.cluster.name} shows the queues it deletes.`,
      });
    const now = await readNow(ctx, shown);
    return shown.map((queue): Verdict => {
      const why = whyKept(queue, now.get(queueKey(queue)));
      return why === undefined ? { queue, delete: true } : { queue, delete: false, why };
    });
  },

  async run(ctx, verdicts) {
    const shell = await ctx.shells.shell(ctx.cluster.seed.name);
    const shown = ctx.options.classicQueues ?? [];
    const tried = verdicts.filter((v) => v.delete).map((v) => v.queue);
    const refused = new Map<string, string>();
    for (const queue of tried) {
      // --if-unused: a consumer that attached since our read keeps its queue (exit 64 on 3.10.8, 69 on 4.3.6)
      const result = await shell.run(deleteQueueCommand(queue), { okExitCodes: [64, 69] });
      if (result.code !== 0) refused.set(queueKey(queue), result.stderr.trim().slice(0, 200) || `exit ${result.code}`);
    }
    const after = await readNow(ctx, shown);
    const deleted: ShownQueue[] = [];
    const kept: DeletedQueues['kept'] = [];
    for (const v of verdicts) {
      const key = queueKey(v.queue);
      if (!v.delete) kept.push({ queue: v.queue, why: v.why });
      else if (after.has(key)) kept.push({ queue: v.queue, why: `not deleted: ${refused.get(key) ?? 'still there'}` });
      else deleted.push(v.queue);
    }
    const shownKeys = new Set(shown.map(queueKey));
    // not shown: appeared since, or had consumers when the request was judged
    const appeared = [...after.values()]
      .filter((q) => !shownKeys.has(queueKey(q)))
      .sort((a, b) => (queueKey(a) < queueKey(b) ? -1 : 1));
    const warnings = [
      ...kept.map((k) => `kept ${describeQueue(k.queue)}: ${k.why}`),
      ...(appeared.length > 0
        ? [
            `${appeared.length} classic queue(s) not shown were left alone: ` +
              `${appeared.slice(0, 20).map(describeQueue).join(', ')}${appeared.length > 20 ? ' …' : ''}`,
          ]
        : []),
    ];
    return {
      detail:
        `${deleted.length} of ${shown.length} shown classic queue(s) deleted` +
        (kept.length ? `, ${kept.length} kept` : ''),
      output: { deleted, kept, appeared, warnings },
    };
  },
};
