import { clusterRestart } from './cluster-restart.js';
import { clusterTeardown } from './cluster-teardown.js';
import { createCluster } from './create-cluster.js';
import { featureFlagsEnable } from './feature-flags-enable.js';
import { nodeAdd } from './node-add.js';
import { nodeRemove } from './node-remove.js';
import { nodeReset } from './node-reset.js';
import { deleteClassicQueuesOperation } from './delete-classic-queues.js';
import { migrateToQuorum } from './migrate-to-quorum.js';
import type { OperationRegistry } from '../src/operations/operation.js';

/** Every operation this build can run, by name (see OperationRegistry: partial on purpose). */
export const operations: OperationRegistry = {
  'cluster.create': createCluster,
  'node.reset': nodeReset,
  'node.remove': nodeRemove,
  'node.add': nodeAdd,
  'cluster.teardown': clusterTeardown,
  'cluster.migrate-to-quorum': migrateToQuorum,
  'cluster.delete-classic-queues': deleteClassicQueuesOperation,
  'feature-flags.enable': featureFlagsEnable,
  'cluster.restart': clusterRestart,
};
