import type { MaintenanceResult } from '../src/operations/schema.js';
import { rollingRestart } from '../src/steps/rolling-restart.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import { declareStep } from '../src/steps/step.js';
import { verify } from '../src/steps/verify.js';
import { maintenanceResult } from './maintenance-result.js';
import { outputOf } from '../src/operations/operation.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/**
 * cluster.restart: gates (a healthy cluster only) → the roll, one node at a time, the seed last
 * (checkpointed per node inside the step) → the whole cluster verified healthy again. One step for
 * the roll, not one per node: the steps of an operation are the same for every cluster, and the
 * per-node progress (which node, how far in it) is the roll's own checkpoint.
 */
export const clusterRestart: OperationDefinition<MaintenanceResult> = {
  operation: 'cluster.restart',
  title: 'Rolling restart of a cluster',
  steps: [declareStep(safetyGates('cluster.restart')), declareStep(rollingRestart), declareStep(verify)],
  alwaysRun: new Set([verify.id]),

  buildResult(outcome) {
    const hosts = outcome.cluster.hosts.map((h) => h.name);
    return maintenanceResult(
      outcome,
      `${outcome.cluster.cluster.name} restarted node by node (${hosts.join(', ')}), the seed last`,
      outputOf(outcome, verify),
    );
  },
};
