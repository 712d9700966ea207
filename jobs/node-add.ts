import type { ClusterHealth } from '../src/rabbit/cluster-status.js';
import type { MaintenanceResult } from '../src/queue/schema.js';
import { cookie } from '../src/steps/cookie.js';
import { install } from '../src/steps/install.js';
import { join } from '../src/steps/join.js';
import { membership } from '../src/steps/membership.js';
import { preflight } from '../src/steps/preflight.js';
import { recordMembership } from '../src/steps/record-membership.js';
import { replication } from '../src/steps/replication.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import { start } from '../src/steps/start.js';
import { declareStep } from '../src/steps/step.js';
import { verify } from '../src/steps/verify.js';
import { maintenanceResult, outputOf } from './maintenance-result.js';
import type { OperationDefinition } from './operation.js';

/**
 * node.add: the create runbook on the cluster with one more host (members are skipped by every
 * step), after the gates. The approval (or --yes) covers what the gates reported the join wipes,
 * so the worker runs it with allowWipe. The host is recorded as added right after it joined.
 */
export const nodeAdd: OperationDefinition<MaintenanceResult> = {
  operation: 'node.add',
  title: 'Add a node',
  steps: [
    declareStep(safetyGates('node.add')),
    declareStep(preflight),
    declareStep(install),
    declareStep(membership),
    declareStep(cookie),
    declareStep(start),
    declareStep(join),
    declareStep(recordMembership('added')),
    declareStep(replication),
    declareStep(verify),
  ],
  alwaysRun: new Set([preflight.id, membership.id, start.id, verify.id]),

  buildResult(outcome) {
    const node = outcome.target?.name ?? '?';
    const running = outcome.cluster.hosts.length;
    return {
      ...maintenanceResult(outcome, `${node} joined ${outcome.cluster.cluster.name}: ${running} nodes`, outputOf(outcome, verify.id) as ClusterHealth | undefined),
      nodes: [{ host: node, outcome: `joined ${outcome.cluster.cluster.name}` }],
    };
  },
};
