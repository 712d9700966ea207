import type { MaintenanceResult } from '../src/operations/schema.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import { deleteClassicQueues } from '../src/steps/quorum-migration.js';
import { declareStep } from '../src/steps/step.js';
import { maintenanceResult } from './maintenance-result.js';
import { outputOf } from '../src/operations/operation.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/**
 * cluster.delete-classic-queues: gates → exactly the classic queues the request showed deleted, each only while it has
 * no consumer and no more messages than shown; what changed or appeared since is kept and named.
 */
export const deleteClassicQueuesOperation: OperationDefinition<MaintenanceResult> = {
  operation: 'cluster.delete-classic-queues',
  title: 'Delete classic queues',
  steps: [declareStep(safetyGates('cluster.delete-classic-queues')), declareStep(deleteClassicQueues)],
  alwaysRun: new Set(),

  buildResult(outcome) {
    const out = outputOf(outcome, deleteClassicQueues);
    const summary = out
      ? `${outcome.cluster.cluster.name}: ${out.deleted.length} classic queue(s) deleted, ${out.kept.length} kept` +
        (out.appeared.length > 0 ? `, ${out.appeared.length} not shown left alone` : '')
      : `${outcome.cluster.cluster.name}: no shown queue was left to delete`;
    return maintenanceResult(outcome, summary, undefined);
  },
};
