import { operations } from '../jobs/index.js';
import { resolveCluster } from './config/load.js';
import type { WarrenConfig } from './config/schema.js';
import type { OperationName } from './queue/schema.js';
import type { PlannedCommand } from './steps/step.js';

/** The dry run: every command each host could get, in order, with its condition. Connects nowhere. */
export function planOperation(config: WarrenConfig, operation: OperationName, clusterName: string): PlannedCommand[] {
  const cluster = resolveCluster(config, clusterName);
  return operations[operation].steps.flatMap((step) => step.plan(cluster));
}
