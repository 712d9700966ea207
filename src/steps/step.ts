import { z } from 'zod';
import type { ResolvedCluster } from '../config/load.js';
import type { Host } from '../config/schema.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ServiceManager } from '../rabbit/commands.js';
import type { MetadataStore } from '../rabbit/feature-flags.js';
import type { JobOptions, StepState } from './schema.js';
import type { Shells } from '../ssh/session.js';

/** What preflight learned about one node; later steps read it, nothing writes it but preflight and install. */
export interface NodeFacts {
  host: string;
  nodeName: string;
  serviceManager: ServiceManager;
  /** Debian package version, e.g. 3.10.8-1.1+deb12u1; undefined when not installed. */
  packageVersion?: string;
  /** Upstream RabbitMQ version, e.g. 3.10.8. */
  rabbitmqVersion?: string;
  erlangVersion?: string;
  /**
   * What the membership gate found in this attempt: already clustered with the seed, or safe to
   * join (standalone, no queues, or the job allows the wipe). Undefined: not yet known.
   */
  membership?: 'member' | 'joinable';
  /**
   * Mnesia or Khepri, from the version (3.10: Mnesia, 4.3: Khepri), asked (4.0), or as the membership gate read it;
   * undefined: not known.
   */
  metadataStore?: MetadataStore;
}

export interface HostProgress {
  host?: string;
  state: StepState;
  durationMs?: number;
  detail?: string;
}

/**
 * How a step records a change of membership (node.add, node.remove, teardown). Steps never touch
 * Redis: the worker implements this with src/state/membership.ts. Each call is idempotent.
 */
export interface MembershipRecorder {
  recordAdded(host: string): Promise<void>;
  recordRemoved(host: string): Promise<void>;
  clear(): Promise<void>;
}

/**
 * A step's own checkpoint inside the job (Backstage's checkpoint helper, BullMQ's `job.updateData`):
 * for a step that does several irreversible things (a rolling restart: one node after another), so
 * a worker that dies in the middle resumes where the step was, not at its start. What comes back
 * was read from Redis: the step parses it with its own schema.
 */
export interface StepCheckpoint {
  /** What this step saved in this job so far (an earlier attempt included); undefined when nothing. */
  read(): unknown;
  /** Saves the step's progress durably before it returns (replaces what was saved). */
  save(value: unknown): Promise<void>;
}

/** Everything a step may use; steps get their I/O from here and nowhere else. */
export interface StepContext {
  readonly cluster: ResolvedCluster;
  /** The node a node.* operation acts on (for node.add it is also in `cluster.hosts`). */
  readonly target?: Host;
  readonly membership: MembershipRecorder;
  readonly shells: Shells;
  readonly facts: Map<string, NodeFacts>;
  /**
   * What steps of this attempt found, by the id of the step that found it (each writes only its own, checked or done):
   * a later step reads it back through `foundBy` instead of asking the node again. Absent in contexts without a runner.
   */
  readonly found?: Map<string, unknown>;
  readonly options: JobOptions;
  readonly logger: Logger;
  /**
   * The job's cancellation: once aborted, the shells refuse every new command and polls stop (both
   * with job.cancelled). A step needs it only where it waits without sending a command.
   */
  readonly signal: AbortSignal;
  /** This step's own progress within the job, kept across attempts (see StepCheckpoint). */
  readonly checkpoint: StepCheckpoint;
  /** Publishes per-host progress for this step (the runner adds the step's own events). */
  report(progress: HostProgress): Promise<void>;
}

/** One command a dry run shows: which host gets it, and the condition under which it would run. */
export interface PlannedCommand {
  step: string;
  host: string;
  command: string;
  when?: string;
}

export interface StepOutcome<Output = unknown> {
  /** One line for people, e.g. "lab2, lab3 restarted with the seed's cookie". */
  detail: string;
  /** Step-specific output the job's result may use (never secrets), of the step's declared `outputSchema`. */
  output?: Output;
}

/**
 * What a step that changes nodes says about them in its output, for the job's result: what became
 * of each node it touched, and warnings for the operator.
 */
export const NodeOutcomes = z.object({
  outcomes: z.array(z.object({ host: z.string(), outcome: z.string() })).optional(),
  warnings: z.array(z.string()).optional(),
});
export type NodeOutcomes = z.infer<typeof NodeOutcomes>;

/**
 * A declared, idempotent unit of work. `check` finds what is still to do (nothing = already done,
 * and the step is skipped); `run` does exactly that; re-running a finished step changes nothing.
 */
export interface Step<Pending = unknown, Output = never> {
  readonly id: `rabbit:${string}`;
  readonly title: string;
  /**
   * What `run` may return as output, declared as Backstage actions declare theirs: the runner
   * validates the output against it, and a job reads it back only through it (outputOf).
   */
  readonly outputSchema?: z.ZodType<Output>;
  /** The commands each host would get, without connecting anywhere (`target`: a node.* operation's node). */
  plan(cluster: ResolvedCluster, target?: Host): PlannedCommand[];
  check(ctx: StepContext): Promise<Pending[]>;
  run(ctx: StepContext, pending: Pending[]): Promise<StepOutcome<Output>>;
  /** Detail for a skipped step. */
  readonly skippedDetail: string;
}

/** What `step` found earlier in this attempt, read through its schema; undefined when it found nothing this attempt. */
export function foundBy<T>(ctx: Pick<StepContext, 'found'>, step: { id: string; schema: z.ZodType<T> }): T | undefined {
  const value = ctx.found?.get(step.id);
  if (value === undefined) return undefined;
  const parsed = step.schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** Runs `work` on every host at once and waits for all; the first failure wins after all have settled. */
export async function onEveryHost<T>(
  hosts: readonly Host[],
  work: (host: Host, index: number) => Promise<T>,
): Promise<T[]> {
  const results = await Promise.allSettled(hosts.map((host, index) => work(host, index)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Times one host's part of a step and reports it running, then done or failed. */
export async function timedOnHost<T>(
  ctx: StepContext,
  host: string,
  work: () => Promise<T>,
  detail: (value: T) => string,
): Promise<T> {
  await ctx.report({ host, state: 'running' });
  const started = performance.now();
  try {
    const value = await work();
    await ctx.report({
      host,
      state: 'done',
      durationMs: Math.round(performance.now() - started),
      detail: detail(value),
    });
    return value;
  } catch (error) {
    await ctx.report({
      host,
      state: 'failed',
      durationMs: Math.round(performance.now() - started),
      detail: messageOf(error),
    });
    throw error;
  }
}

/** A step with its pending-work type hidden, so steps of different kinds can sit in one list. */
export interface DeclaredStep<Output = unknown> {
  readonly id: string;
  readonly title: string;
  readonly skippedDetail: string;
  /** The shape of the step's output; a step without one returns none. */
  readonly outputSchema?: z.ZodType<Output>;
  plan(cluster: ResolvedCluster, target?: Host): PlannedCommand[];
  /** Runs the check, then the work it found; `undefined` when there was nothing to do. */
  execute(ctx: StepContext): Promise<StepOutcome<Output> | undefined>;
}

export function declareStep<Pending, Output = never>(step: Step<Pending, Output>): DeclaredStep<Output> {
  return {
    id: step.id,
    title: step.title,
    skippedDetail: step.skippedDetail,
    ...(step.outputSchema ? { outputSchema: step.outputSchema } : {}),
    plan: (cluster, target) => step.plan(cluster, target),
    async execute(ctx) {
      const pending = await step.check(ctx);
      return pending.length === 0 ? undefined : step.run(ctx, pending);
    },
  };
}
