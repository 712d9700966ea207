import type { MaintenanceResult } from '../src/operations/schema.js';
import { join } from '../src/steps/join.js';
import { recordMembership } from '../src/steps/record-membership.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import { declareStep } from '../src/steps/step.js';
import { verify } from '../src/steps/verify.js';
import { createCluster } from './create-cluster.js';
import { maintenanceResult } from './maintenance-result.js';
import { outputOf } from '../src/operations/operation.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/** Where create's runbook has just joined the nodes: the new host is recorded there. */
const AFTER_JOIN = createCluster.steps.findIndex((s) => s.id === join.id) + 1;

/**
 * node.add: the create runbook on the cluster with one more host (members are skipped by every
 * step), after the gates. The approval (or --yes) covers what the gates reported the join wipes,
 * so the worker runs it with allowWipe. The host is recorded as added right after it joined.
 */
export const nodeAdd: OperationDefinition<MaintenanceResult> = {
  operation: 'node.add',
  title: 'Add a node',
  // Create's runbook itself (so the two never drift apart), with the host recorded right after its join.
  steps: [
    declareStep(safetyGates('node.add')),
    ...createCluster.steps.slice(0, AFTER_JOIN),
    declareStep(recordMembership('added')),
    ...createCluster.steps.slice(AFTER_JOIN),
  ],
  alwaysRun: createCluster.alwaysRun,

  buildResult(outcome) {
    const node = outcome.target?.name ?? '?';
    const running = outcome.cluster.hosts.length;
    return {
      ...maintenanceResult(
        outcome,
        `${node} joined ${outcome.cluster.cluster.name}: ${running} nodes`,
        outputOf(outcome, verify),
      ),
      nodes: [{ host: node, outcome: `joined ${outcome.cluster.cluster.name}` }],
    };
  },
};
