import type { MaintenanceResult } from '../src/operations/schema.js';
import { forgetNode } from '../src/steps/forget-node.js';
import { recordMembership } from '../src/steps/record-membership.js';
import { quorumMembers } from '../src/steps/quorum-members.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import { declareStep } from '../src/steps/step.js';
import { stopNode } from '../src/steps/stop-node.js';
import { verifySurvivors } from '../src/steps/verify-survivors.js';
import { wipeNode } from '../src/steps/wipe-node.js';
import { maintenanceResult } from './maintenance-result.js';
import { outputOf } from '../src/operations/operation.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/**
 * node.remove: gates → stop the node's app → a running peer forgets it → recorded as removed (it
 * is out of the cluster from here on, whatever follows) → the node reset and left stopped → the
 * quorum queues shrunk off it → the survivors verified.
 */
export const nodeRemove: OperationDefinition<MaintenanceResult> = {
  operation: 'node.remove',
  title: 'Remove a node',
  steps: [
    declareStep(safetyGates('node.remove')),
    declareStep(stopNode),
    declareStep(forgetNode),
    declareStep(recordMembership('removed')),
    declareStep(wipeNode),
    declareStep(quorumMembers('survivors')),
    declareStep(verifySurvivors),
  ],
  alwaysRun: new Set([verifySurvivors.id]),

  buildResult(outcome) {
    const node = outcome.target?.name ?? '?';
    const survivors = outcome.cluster.hosts.filter((h) => h.name !== node).map((h) => h.name);
    return maintenanceResult(
      outcome,
      `${node} removed from ${outcome.cluster.cluster.name}; ${survivors.join(', ')} remain`,
      outputOf(outcome, verifySurvivors)?.health,
    );
  },
};
