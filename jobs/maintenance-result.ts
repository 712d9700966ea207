import type { ClusterHealth } from '../src/rabbit/cluster-status.js';
import type { MaintenanceResult } from '../src/operations/schema.js';
import type { OperationOutcome, StepRecord } from '../src/operations/operation.js';

/** What a maintenance step may put in its output for the result: what became of each node (`outcomes`), and warnings. */
interface NodeOutput {
  outcomes?: { host: string; outcome: string }[];
  warnings?: string[];
}

function nodeOutputOf(record: StepRecord): NodeOutput {
  const output = record.output;
  return typeof output === 'object' && output !== null ? (output) : {};
}

/** The shared shape of the four maintenance results: steps, nodes and warnings from the steps' outputs. */
export function maintenanceResult(outcome: OperationOutcome, summary: string, health: ClusterHealth | undefined): MaintenanceResult {
  const outputs = outcome.steps.map(nodeOutputOf);
  return {
    cluster: outcome.cluster.cluster.name,
    ...(outcome.target ? { node: outcome.target.name } : {}),
    summary,
    ...(health ? { health } : {}),
    nodes: outputs.flatMap((o) => o.outcomes ?? []),
    warnings: outputs.flatMap((o) => o.warnings ?? []),
    steps: outcome.steps.map(({ id, state, durationMs, detail }) => ({ id, state, ...(durationMs === undefined ? {} : { durationMs }), ...(detail === undefined ? {} : { detail }) })),
  };
}

/** The output of the step with this id, if it ran in this attempt. */
export function outputOf(outcome: OperationOutcome, id: string): unknown {
  return outcome.steps.find((s) => s.id === id)?.output;
}
