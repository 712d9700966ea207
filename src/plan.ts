import { operations } from '../jobs/index.js';
import { resolveCluster } from './config/load.js';
import { WarrenError } from './errors.js';
import type { WarrenConfig } from './config/schema.js';
import type { OperationName } from './queue/schema.js';
import type { PlannedCommand } from './steps/step.js';

/** The dry run: every command each host could get, in order, with its condition. Connects nowhere. */
export function planOperation(config: WarrenConfig, operation: OperationName, clusterName: string): PlannedCommand[] {
  const cluster = resolveCluster(config, clusterName);
  const definition = operations[operation];
  if (!definition) throw new WarrenError('operation.unknown', `this build cannot plan ${operation}`);
  return definition.steps.flatMap((step) => step.plan(cluster));
}
