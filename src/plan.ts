import { operations } from '../jobs/index.js';
import { resolveCluster } from './config/load.js';
import type { MembershipChanges } from './config/load.js';
import { WarrenError } from './errors.js';
import type { WarrenConfig } from './config/schema.js';
import { isNodeOperation } from './operations/schema.js';
import type { OperationName } from './operations/schema.js';
import { assertTarget } from './gates/evaluate.js';
import { isDestructive } from './operations/schema.js';
import type { PlannedCommand } from './steps/step.js';

/**
 * The dry run: every command each host could get, in order, with its condition. Connects nowhere.
 * Node operations name their node; `membership` is what node.add/node.remove changed (else the
 * config's nodes).
 */
export function planOperation(
  config: WarrenConfig,
  operation: OperationName,
  clusterName: string,
  node?: string,
  options: { membership?: MembershipChanges } = {},
): PlannedCommand[] {
  const definition = operations[operation];
  if (!definition) throw new WarrenError('operation.unknown', `this build cannot plan ${operation}`);
  const members = resolveCluster(config, clusterName, options.membership);
  if (isNodeOperation(operation) && node === undefined)
    throw new WarrenError('node.unknown', `${operation} needs the node it acts on`, {
      hint: `Members of ${clusterName}: ${members.hosts.map((h) => h.name).join(', ')}.`,
    });
  if (isDestructive(operation))
    assertTarget(
      operation,
      clusterName,
      node,
      members.hosts.map((h) => h.name),
      config.hosts.map((h) => h.name),
    );
  const target = node === undefined ? undefined : config.hosts.find((h) => h.name === node);
  // An add plans on the cluster with the new host in it, as the worker runs it.
  const cluster =
    operation === 'node.add' && target
      ? resolveCluster(config, clusterName, {
          added: [...(options.membership?.added ?? []), target.name],
          removed: (options.membership?.removed ?? []).filter((h) => h !== target.name),
        })
      : members;
  return definition.steps.flatMap((step) => step.plan(cluster, target));
}
