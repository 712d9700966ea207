import type { MaintenanceResult } from '../src/operations/schema.js';
import { enableFeatureFlags } from '../src/steps/enable-feature-flags.js';
import { safetyGates } from '../src/steps/safety-gates.js';
import { declareStep } from '../src/steps/step.js';
import { maintenanceResult } from './maintenance-result.js';
import { outputOf } from '../src/operations/operation.js';
import type { OperationDefinition } from '../src/operations/operation.js';

/**
 * feature-flags.enable: gates (every node runs) → every stable flag not enabled, enabled from the seed and read back.
 * A second run finds nothing to enable and skips the step.
 */
export const featureFlagsEnable: OperationDefinition<MaintenanceResult> = {
  operation: 'feature-flags.enable',
  title: 'Enable feature flags',
  steps: [declareStep(safetyGates('feature-flags.enable')), declareStep(enableFeatureFlags)],
  alwaysRun: new Set(),

  buildResult(outcome) {
    const name = outcome.cluster.cluster.name;
    const enabled = outputOf(outcome, enableFeatureFlags)?.enabled ?? [];
    const summary =
      enabled.length === 0
        ? `${name}: nothing to enable, every stable feature flag was already enabled`
        : `${name}: enabled ${enabled.length} feature flag(s): ${enabled.join(', ')}`;
    return maintenanceResult(outcome, summary, undefined);
  },
};
