import type { MaintenanceResult } from '../src/operations/schema.js';
import { resetNode } from '../src/steps/reset-node.js';
import { quorumMembers } from '../src/steps/quorum-members.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import { declareStep } from '../src/steps/step.js';
import { verifySurvivors } from '../src/steps/verify-survivors.js';
import { maintenanceResult } from './maintenance-result.js';
import { outputOf } from '../src/operations/operation.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/**
 * node.reset: gates → reset (stop_app, reset, start_app) → its quorum replicas shrunk away → the
 * others verified healthy. The node
 * stays in the config: a later create joins it again.
 */
export const nodeReset: OperationDefinition<MaintenanceResult> = {
  operation: 'node.reset',
  title: 'Reset a node',
  steps: [
    declareStep(safetyGates('node.reset')),
    declareStep(resetNode),
    declareStep(quorumMembers('survivors')),
    declareStep(verifySurvivors),
  ],
  alwaysRun: new Set([verifySurvivors.id]),

  buildResult(outcome) {
    const node = outcome.target?.name ?? '?';
    const others = outcome.cluster.hosts.filter((h) => h.name !== node).map((h) => h.name);
    return maintenanceResult(
      outcome,
      `${node} reset: a blank single node; ${others.join(', ')} still clustered`,
      outputOf(outcome, verifySurvivors)?.health,
    );
  },
};
