import { z } from 'zod';
import { SafeName } from '../config/schema.js';
import { DESTRUCTIVE_OPERATIONS } from '../gates/schema.js';
import type { DestructiveOperation } from '../gates/schema.js';
import { ClusterHealth } from '../rabbit/cluster-status.js';
import { JobOptions, StepState } from '../steps/schema.js';

/** The operations a worker knows; each has a job definition under jobs/. */
export const OperationName = z.enum(['cluster.create', ...DESTRUCTIVE_OPERATIONS]);
export type OperationName = z.infer<typeof OperationName>;

export const isDestructive = (operation: OperationName): operation is DestructiveOperation =>
  (DESTRUCTIVE_OPERATIONS as readonly string[]).includes(operation);

/**
 * Operations a cluster's config may let an operator run from Slack without a second person
 * (`approval: operator`): they take nodes down in turn but destroy nothing.
 */
export const OPERATOR_RUNNABLE = ['cluster.restart'] as const satisfies readonly OperationName[];
export const isOperatorRunnable = (operation: OperationName): boolean =>
  (OPERATOR_RUNNABLE as readonly string[]).includes(operation);

/** Operations on one node of a cluster: the job names that node (an inventory host name). */
export const NODE_OPERATIONS = ['node.reset', 'node.remove', 'node.add'] as const satisfies readonly OperationName[];
export const isNodeOperation = (operation: OperationName): boolean =>
  (NODE_OPERATIONS as readonly string[]).includes(operation);

/** Where a job came from, so its progress can go back there (a Slack card, or a terminal). */
export const JobOrigin = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cli'), user: z.string().max(64) }).strict(),
  z
    .object({
      kind: z.literal('slack'),
      user: z.string().regex(/^[UW][A-Z0-9]+$/),
      channel: z.string().regex(/^[CDG][A-Z0-9]+$/),
      /** The job card's message ts: its thread carries the job's replies. */
      cardTs: z.string().regex(/^\d+\.\d+$/),
    })
    .strict(),
]);
export type JobOrigin = z.infer<typeof JobOrigin>;

/** What a job records as it goes, so a worker that dies resumes where it stopped (never secrets). */
export const JobCheckpoint = z
  .object({
    completedSteps: z.array(z.string()).default([]),
    /** What a step saved about its own progress (StepCheckpoint), by step id; each step parses its own. */
    stepData: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** The payload on the queue: validated when enqueued and again in the worker (Redis data is untyped). */
export const JobData = z
  .object({
    operation: OperationName,
    cluster: SafeName,
    /** The inventory host a node.* operation acts on; absent for cluster-wide operations. */
    node: SafeName.optional(),
    options: JobOptions.default({ allowWipe: false }),
    origin: JobOrigin,
    /**
     * How a destructive operation was allowed: the Slack approval that released it, or the CLI's
     * --yes (which bypasses chat approval). Required for destructive operations.
     */
    authorization: z
      .discriminatedUnion('kind', [
        z
          .object({
            kind: z.literal('approval'),
            approvalId: z.string().min(1).max(64),
            approvedBy: z.string().regex(/^[UW][A-Z0-9]+$/),
          })
          .strict(),
        z.object({ kind: z.literal('cli-yes'), user: z.string().max(64) }).strict(),
        /** An operator ran it from Slack where the cluster's config says `approval: operator` (the worker checks). */
        z.object({ kind: z.literal('operator'), user: z.string().regex(/^[UW][A-Z0-9]+$/) }).strict(),
      ])
      .optional(),
    requestedAt: z.string().datetime(),
    checkpoint: JobCheckpoint.default({ completedSteps: [] }),
  })
  .strict()
  .superRefine((data, ctx) => {
    if (isNodeOperation(data.operation) && data.node === undefined)
      ctx.addIssue({ code: 'custom', path: ['node'], message: `${data.operation} needs the node it acts on` });
    if (!isNodeOperation(data.operation) && data.node !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['node'],
        message: `${data.operation} acts on the whole cluster and takes no node`,
      });
    if (data.authorization?.kind === 'operator' && !isOperatorRunnable(data.operation))
      ctx.addIssue({
        code: 'custom',
        path: ['authorization'],
        message: `${data.operation} always needs an approval: an operator cannot run it alone`,
      });
    if (isDestructive(data.operation) && data.authorization === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['authorization'],
        message: `${data.operation} destroys data: it needs an approval (Slack) or --yes (CLI)`,
      });
    }
  });
export type JobData = z.infer<typeof JobData>;
export type JobRequest = z.input<typeof JobData>;

/** What a finished cluster.create returns (job.returnvalue and the `completed` event's result). */
export const ClusterCreateResult = z.object({
  cluster: z.string(),
  health: ClusterHealth,
  replication: z.object({ mode: z.enum(['ha-all', 'quorum', 'none']), detail: z.string() }),
  /** Where the cluster keeps its metadata: Mnesia (3.x, 4.0 by default) or Khepri (4.3; 4.0 opt-in). */
  metadataStore: z.enum(['mnesia', 'khepri']).optional(),
  /** e.g. classic mirroring is deprecated; shown to the operator, never fatal. */
  warnings: z.array(z.string()),
  /** oslo.messaging transport_url template with USER/PASS placeholders, never a password. */
  transportUrl: z.string(),
  steps: z.array(
    z.object({ id: z.string(), state: StepState, durationMs: z.number().optional(), detail: z.string().optional() }),
  ),
});
export type ClusterCreateResult = z.infer<typeof ClusterCreateResult>;

/**
 * What a finished node.reset / node.remove / node.add / cluster.teardown returns. `health` is the
 * cluster as the operation left it (for a reset or remove: read from a surviving node; absent after
 * a teardown, which leaves no cluster); `nodes` says what became of each node it touched.
 */
export const MaintenanceResult = z.object({
  cluster: z.string(),
  node: z.string().optional(),
  /** One line for people: "lab3 reset: a blank single node; lab1, lab2 still clustered". */
  summary: z.string(),
  health: ClusterHealth.optional(),
  nodes: z.array(z.object({ host: z.string(), outcome: z.string() })),
  warnings: z.array(z.string()),
  steps: z.array(
    z.object({ id: z.string(), state: StepState, durationMs: z.number().optional(), detail: z.string().optional() }),
  ),
});
export type MaintenanceResult = z.infer<typeof MaintenanceResult>;
