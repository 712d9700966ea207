import type { MaintenanceResult } from '../src/operations/schema.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import {
  listRemainingClassicQueues,
  quorumDefaultQueueType,
  removeMirroringPolicies,
} from '../src/steps/quorum-migration.js';
import { declareStep } from '../src/steps/step.js';
import { maintenanceResult } from './maintenance-result.js';
import { outputOf } from '../src/operations/operation.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/**
 * cluster.migrate-to-quorum: gates → mirroring policies removed → quorum the default queue type of every vhost → the
 * classic queues that remain listed (never deleted here: that is cluster.delete-classic-queues, approved on its own).
 */
export const migrateToQuorum: OperationDefinition<MaintenanceResult> = {
  operation: 'cluster.migrate-to-quorum',
  title: 'Migrate to quorum queues',
  steps: [
    declareStep(safetyGates('cluster.migrate-to-quorum')),
    declareStep(removeMirroringPolicies),
    declareStep(quorumDefaultQueueType),
    declareStep(listRemainingClassicQueues),
  ],
  alwaysRun: new Set([listRemainingClassicQueues.id]),

  buildResult(outcome) {
    const remaining = outputOf(outcome, listRemainingClassicQueues)?.queues.length ?? 0;
    return maintenanceResult(
      outcome,
      `${outcome.cluster.cluster.name}: no mirroring policy, quorum the default queue type of every vhost; ` +
        `${remaining} classic queue(s) remain`,
      undefined,
    );
  },
};
