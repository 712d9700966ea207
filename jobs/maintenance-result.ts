import type { MaintenanceResult } from '../src/operations/schema.js';
import { NodeOutcomes } from '../src/steps/step.js';
import type { OperationOutcome, StepRecord } from '../src/operations/operation.js';

/**
 * What a step's output says of the nodes it touched; nothing for an output of another shape (a gate report, a health).
 */
function nodeOutputOf(record: StepRecord): NodeOutcomes {
  const parsed = NodeOutcomes.safeParse(record.output);
  return parsed.success ? parsed.data : {};
}

/** The shared shape of the four maintenance results: steps, nodes and warnings from the steps' outputs. */
export function maintenanceResult(
  outcome: OperationOutcome,
  summary: string,
  health: MaintenanceResult['health'],
): MaintenanceResult {
  const outputs = outcome.steps.map(nodeOutputOf);
  return {
    cluster: outcome.cluster.cluster.name,
    ...(outcome.target ? { node: outcome.target.name } : {}),
    summary,
    ...(health ? { health } : {}),
    nodes: outputs.flatMap((o) => o.outcomes ?? []),
    warnings: outputs.flatMap((o) => o.warnings ?? []),
    steps: outcome.steps.map(({ id, state, durationMs, detail }) => ({
      id,
      state,
      ...(durationMs === undefined ? {} : { durationMs }),
      ...(detail === undefined ? {} : { detail }),
    })),
  };
}
