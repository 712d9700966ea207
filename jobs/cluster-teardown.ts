import type { MaintenanceResult } from '../src/operations/schema.js';
import { recordMembership } from '../src/steps/record-membership.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import { declareStep } from '../src/steps/step.js';
import { teardown } from '../src/steps/teardown.js';
import { maintenanceResult } from './maintenance-result.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/**
 * cluster.teardown: gates → every node reset (joiners first, seed last) → membership changes cleared. No health: no
 * cluster is left.
 */
export const clusterTeardown: OperationDefinition<MaintenanceResult> = {
  operation: 'cluster.teardown',
  title: 'Tear down a cluster',
  steps: [
    declareStep(safetyGates('cluster.teardown')),
    declareStep(teardown),
    declareStep(recordMembership('cleared')),
  ],
  alwaysRun: new Set(),

  buildResult(outcome) {
    const hosts = outcome.cluster.hosts.map((h) => h.name);
    return maintenanceResult(
      outcome,
      `${outcome.cluster.cluster.name} torn down: ${hosts.join(', ')} are blank single nodes`,
      undefined,
    );
  },
};
