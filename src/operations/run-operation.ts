import type { OperationDefinition, StepRecord } from './operation.js';
import type { ResolvedCluster } from '../config/load.js';
import { isWarrenError, toWarrenError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { jobCancelled, throwIfCancelled } from '../ssh/cancellation.js';
import type { Shells } from '../ssh/session.js';
import type { Host } from '../config/schema.js';
import type { DeclaredStep, HostProgress, MembershipRecorder, NodeFacts, StepContext } from '../steps/step.js';
import type { JobOptions, StepState } from '../steps/schema.js';

export interface StepReport {
  step: string;
  host?: string;
  state: StepState;
  durationMs?: number;
  detail?: string;
  error?: ReturnType<ReturnType<typeof toWarrenError>['toJSON']>;
}

export interface RunOperationInput<Result> {
  definition: OperationDefinition<Result>;
  cluster: ResolvedCluster;
  /** The node a node.* operation acts on. */
  target?: Host;
  membership: MembershipRecorder;
  shells: Shells;
  options: JobOptions;
  logger: Logger;
  /** The job's cancellation: checked before each step, handed to each step (and given to the shells by the worker). */
  signal?: AbortSignal;
  /** Steps an earlier attempt finished (from the job's checkpoint). */
  completedSteps: readonly string[];
  report(event: StepReport): Promise<void>;
  /** Called after each step finishes, with every step finished so far; persists the checkpoint. */
  saveCheckpoint(completedSteps: string[]): Promise<void>;
  /** What steps saved of their own progress in earlier attempts (the job's checkpoint.stepData). */
  stepData?: Readonly<Record<string, unknown>>;
  /** Persists every step's own progress (StepCheckpoint.save); without it, progress lives only in this attempt. */
  saveStepData?(stepData: Record<string, unknown>): Promise<void>;
}

/**
 * A step's output as its schema declares it. A mismatch is a bug in the step, not the operator's
 * input: a plain error, which the runner reports as an unexpected one.
 */
function declaredOutput(step: DeclaredStep, output: unknown): unknown {
  if (output === undefined || !step.outputSchema) return output;
  const parsed = step.outputSchema.safeParse(output);
  if (!parsed.success)
    throw new Error(
      `${step.id} returned an output its schema refuses: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`)
        .join('; ')}`,
    );
  return parsed.data;
}

/**
 * Runs an operation's steps in order. A step an earlier attempt finished is not run again (unless
 * it is read-only and marked always-run); each finished step is checkpointed before the next starts.
 */
export async function runOperation<Result>(input: RunOperationInput<Result>): Promise<Result> {
  const { definition, logger } = input;
  const facts = new Map<string, NodeFacts>();
  const found = new Map<string, unknown>();
  const completed = new Set(input.completedSteps);
  const records: StepRecord[] = [];
  const signal = input.signal ?? new AbortController().signal;
  const stepData: Record<string, unknown> = { ...input.stepData };

  for (const step of definition.steps) {
    if (completed.has(step.id) && !definition.alwaysRun.has(step.id)) {
      records.push({ id: step.id, state: 'skipped', detail: 'finished by an earlier attempt' });
      await input.report({ step: step.id, state: 'skipped', detail: 'finished by an earlier attempt' });
      continue;
    }
    throwIfCancelled(signal, `step ${step.id}`);
    const ctx: StepContext = {
      cluster: input.cluster,
      ...(input.target ? { target: input.target } : {}),
      membership: input.membership,
      shells: input.shells,
      facts,
      found,
      options: input.options,
      logger: logger.child({ step: step.id }),
      signal,
      checkpoint: {
        read: () => (Object.hasOwn(stepData, step.id) ? stepData[step.id] : undefined),
        save: async (value: unknown) => {
          stepData[step.id] = value;
          await input.saveStepData?.({ ...stepData });
        },
      },
      report: (progress: HostProgress) => input.report({ step: step.id, ...progress }),
    };
    await input.report({ step: step.id, state: 'running' });
    const started = performance.now();
    try {
      const outcome = await step.execute(ctx);
      const durationMs = Math.round(performance.now() - started);
      const record: StepRecord = outcome
        ? {
            id: step.id,
            state: 'done',
            durationMs,
            detail: outcome.detail,
            output: declaredOutput(step, outcome.output),
          }
        : { id: step.id, state: 'skipped', durationMs, detail: step.skippedDetail };
      records.push(record);
      completed.add(step.id);
      await input.saveCheckpoint([...completed]);
      await input.report({
        step: step.id,
        state: record.state,
        durationMs,
        ...(record.detail ? { detail: record.detail } : {}),
      });
      logger.info({ step: step.id, state: record.state, durationMs }, 'step finished');
    } catch (thrown) {
      // Cancelled under a step: whatever the step made of a refused command (some polls read a
      // refusal as "that node does not answer"), the job ends as cancelled.
      const error =
        signal.aborted && !(isWarrenError(thrown) && thrown.code === 'job.cancelled')
          ? jobCancelled(signal, `the rest of step ${step.id}`)
          : toWarrenError(thrown);
      error.step ??= step.id;
      await input.report({
        step: step.id,
        state: 'failed',
        durationMs: Math.round(performance.now() - started),
        detail: error.message,
        // The step's own event (no host): the host, if any, is in error.host.
        error: error.toJSON(),
      });
      throw error;
    }
  }
  return definition.buildResult({
    cluster: input.cluster,
    ...(input.target ? { target: input.target } : {}),
    facts,
    steps: records,
  });
}
