import type { z } from 'zod';
import type { ResolvedCluster } from '../config/load.js';
import type { Host } from '../config/schema.js';
import type { OperationName } from './schema.js';
import type { StepState } from '../steps/schema.js';
import type { DeclaredStep, NodeFacts } from '../steps/step.js';

/** How one step of a job ended. */
export interface StepRecord {
  id: string;
  state: StepState;
  durationMs?: number;
  detail?: string;
  output?: unknown;
}

/** What a job definition sees when it builds its result: no connections, only what the steps returned. */
export interface OperationOutcome {
  cluster: ResolvedCluster;
  /** The node a node.* operation acted on. */
  target?: Host;
  facts: ReadonlyMap<string, NodeFacts>;
  steps: readonly StepRecord[];
}

/**
 * Every operation a build can run, by name. Partial on purpose: during a rolling upgrade a queue
 * can hold a job named by a newer build, and a worker must fail it clearly instead of crashing.
 * The worker is given one (jobs/index.ts) by the process that starts it: src/ never imports jobs/.
 */
export type OperationRegistry = Partial<Record<OperationName, OperationDefinition>>;

/** An operation: which steps, in what order, and how their outcome becomes the job's result. No I/O here. */
export interface OperationDefinition<Result = unknown> {
  operation: OperationName;
  title: string;
  steps: readonly DeclaredStep[];
  /** Read-only steps that run on every attempt, even when an earlier attempt finished them. */
  alwaysRun: ReadonlySet<string>;
  buildResult(outcome: OperationOutcome): Result;
}

/**
 * The output of `step` in this attempt, read through the step's schema (a record's output is
 * untyped: it may come back from Redis); undefined when the step did not run or returned none.
 */
export function outputOf<Output>(
  outcome: OperationOutcome,
  step: { readonly id: string; readonly outputSchema?: z.ZodType<Output> },
): Output | undefined {
  const output = outcome.steps.find((s) => s.id === step.id)?.output;
  return output === undefined || !step.outputSchema ? undefined : step.outputSchema.parse(output);
}
