import type { OperationName } from '../src/queue/schema.js';
import { createCluster } from './create-cluster.js';
import type { OperationDefinition } from './operation.js';

/** Every operation a worker can run, by name. */
export const operations: Record<OperationName, OperationDefinition> = {
  'cluster.create': createCluster,
};
