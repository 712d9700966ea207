import { membersForGates, readGateFacts } from '../gates/check.js';
import { assertTarget, evaluateGates, refusalError } from '../gates/evaluate.js';
import { GateReport } from '../gates/schema.js';
import type { DestructiveOperation } from '../gates/schema.js';
import { clusterStatusCommand, featureFlagsCommand, quorumCriticalCommand } from '../rabbit/commands.js';
import type { Step } from './step.js';

/**
 * The safety gates of a destructive operation, judged again right before its first destructive
 * step (the cluster may have changed since the approval). Not always-run: a resumed attempt whose
 * destructive step already ran must not re-judge the cluster that step changed. Refusal is
 * gate.refused, not retryable, carrying every failed check's reason and remedy.
 */
export function safetyGates(operation: DestructiveOperation): Step<'judge', GateReport> {
  return {
    id: 'rabbit:safety-gates',
    title: 'Safety gates: majority, last running disk node, quorum, reachability',
    skippedDetail: 'never skipped',
    outputSchema: GateReport,

    plan(cluster, target) {
      const members = membersForGates(cluster, operation, target);
      return [
        ...members.hosts.map((host) => ({ step: this.id, host: host.name, command: clusterStatusCommand().text })),
        ...(target && operation !== 'node.add'
          ? [
              {
                step: this.id,
                host: target.name,
                command: quorumCriticalCommand().text,
                when: 'it runs RabbitMQ 3.8 or later',
              },
            ]
          : []),
        ...(target && operation === 'node.add'
          ? [{ step: this.id, host: target.name, command: clusterStatusCommand().text }]
          : []),
        ...(operation === 'feature-flags.enable'
          ? [
              {
                step: this.id,
                host: cluster.seed.name,
                command: featureFlagsCommand().text,
                when: 'on the first node that answers (the seed first)',
              },
            ]
          : []),
      ];
    },

    check() {
      return Promise.resolve(['judge' as const]);
    },

    async run(ctx) {
      const members = membersForGates(ctx.cluster, operation, ctx.target);
      // An add's target is in ctx.cluster already (the worker puts it there): only reset/remove are checked here.
      if (operation !== 'node.add') {
        const names = members.hosts.map((h) => h.name);
        assertTarget(operation, ctx.cluster.cluster.name, ctx.target?.name, names, names);
      }
      const facts = await readGateFacts(
        ctx.shells,
        { operation, cluster: ctx.cluster.cluster.name },
        members,
        ctx.target,
        ctx.logger,
      );
      const report: GateReport = evaluateGates(facts, ctx.target?.name);
      if (!report.allowed) throw refusalError(report);
      return { detail: report.checks.map((c) => c.detail).join('; '), output: report };
    },
  };
}
