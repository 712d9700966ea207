import type { OperationName } from '../src/queue/schema.js';
import { clusterTeardown } from './cluster-teardown.js';
import { createCluster } from './create-cluster.js';
import { nodeAdd } from './node-add.js';
import { nodeRemove } from './node-remove.js';
import { nodeReset } from './node-reset.js';
import type { OperationDefinition } from './operation.js';

/**
 * Every operation this build can run, by name. Partial on purpose: during a rolling upgrade a queue
 * can hold a job named by a newer build, and a worker must fail it clearly instead of crashing.
 */
export const operations: Partial<Record<OperationName, OperationDefinition>> = {
  'cluster.create': createCluster,
  'node.reset': nodeReset,
  'node.remove': nodeRemove,
  'node.add': nodeAdd,
  'cluster.teardown': clusterTeardown,
};
