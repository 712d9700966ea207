import { z } from 'zod';
import { SafeName } from '../config/schema.js';

/** The operations a worker knows; each has a job definition under jobs/. */
export const OperationName = z.enum(['cluster.create', 'node.reset', 'node.remove', 'node.add', 'cluster.teardown']);
export type OperationName = z.infer<typeof OperationName>;

/**
 * Operations that destroy data (a reset wipes a node; a join wipes the joining node): from Slack
 * they run only after a second person approves; from the CLI only with --yes. All are audited.
 */
export const DESTRUCTIVE_OPERATIONS = ['node.reset', 'node.remove', 'node.add', 'cluster.teardown'] as const satisfies readonly OperationName[];
export type DestructiveOperation = (typeof DESTRUCTIVE_OPERATIONS)[number];
export const isDestructive = (operation: OperationName): operation is DestructiveOperation => (DESTRUCTIVE_OPERATIONS as readonly string[]).includes(operation);

/** Operations on one node of a cluster: the job names that node (an inventory host name). */
export const NODE_OPERATIONS = ['node.reset', 'node.remove', 'node.add'] as const satisfies readonly OperationName[];
export const isNodeOperation = (operation: OperationName): boolean => (NODE_OPERATIONS as readonly string[]).includes(operation);

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

export const JobOptions = z
  .object({
    /** Join nodes even when the join would wipe queues or another cluster's membership. */
    allowWipe: z.boolean().default(false),
  })
  .strict();
export type JobOptions = z.infer<typeof JobOptions>;

/** What a job records as it goes, so a worker that dies resumes where it stopped (never secrets). */
export const JobCheckpoint = z
  .object({
    completedSteps: z.array(z.string()).default([]),
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
        z.object({ kind: z.literal('approval'), approvalId: z.string().min(1).max(64), approvedBy: z.string().regex(/^[UW][A-Z0-9]+$/) }).strict(),
        z.object({ kind: z.literal('cli-yes'), user: z.string().max(64) }).strict(),
      ])
      .optional(),
    requestedAt: z.string().datetime(),
    checkpoint: JobCheckpoint.default({ completedSteps: [] }),
  })
  .strict()
  .superRefine((data, ctx) => {
    if (isNodeOperation(data.operation) && data.node === undefined) ctx.addIssue({ code: 'custom', path: ['node'], message: `${data.operation} needs the node it acts on` });
    if (!isNodeOperation(data.operation) && data.node !== undefined) ctx.addIssue({ code: 'custom', path: ['node'], message: `${data.operation} acts on the whole cluster and takes no node` });
    if (isDestructive(data.operation) && data.authorization === undefined) {
      ctx.addIssue({ code: 'custom', path: ['authorization'], message: `${data.operation} destroys data: it needs an approval (Slack) or --yes (CLI)` });
    }
  });
export type JobData = z.infer<typeof JobData>;
export type JobRequest = z.input<typeof JobData>;

export const StepState = z.enum(['pending', 'running', 'done', 'skipped', 'failed']);
export type StepState = z.infer<typeof StepState>;

const SerializedError = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  host: z.string().optional(),
  step: z.string().optional(),
  hint: z.string().optional(),
  evidence: z
    .object({
      host: z.string(),
      command: z.string(),
      exitCode: z.number().nullable(),
      signal: z.string().nullable().optional(),
      stderr: z.string(),
      stdout: z.string().optional(),
    })
    .optional(),
});

/**
 * A progress event, appended to the job's Redis stream (`eventsKey(prefix, jobId)`) in order.
 * Front ends replay the stream from their last seen id, so nothing is lost across restarts.
 */
export const ProgressEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('job'),
    jobId: z.string(),
    operation: OperationName,
    cluster: z.string(),
    state: z.enum(['queued', 'started', 'retrying', 'completed', 'failed']),
    attempt: z.number().int().nonnegative(),
    /** Step ids in order, so a card can draw its checklist before anything runs. */
    steps: z.array(z.object({ id: z.string(), title: z.string() })).optional(),
    error: SerializedError.optional(),
    /** Present on `completed`: the operation's result (see ClusterCreateResult). */
    result: z.unknown().optional(),
    at: z.string(),
  }),
  z.object({
    type: z.literal('step'),
    jobId: z.string(),
    operation: OperationName,
    cluster: z.string(),
    step: z.string(),
    /** Absent for the step as a whole; set for one host's part of it. */
    host: z.string().optional(),
    state: StepState,
    durationMs: z.number().nonnegative().optional(),
    /** One line for people: "already installed", "cookie differed: restarted", … */
    detail: z.string().max(2000).optional(),
    error: SerializedError.optional(),
    at: z.string(),
  }),
]);
export type ProgressEvent = z.infer<typeof ProgressEvent>;
export type StepEvent = Extract<ProgressEvent, { type: 'step' }>;
export type JobEvent = Extract<ProgressEvent, { type: 'job' }>;

/** Redis names, in one place. */
export const QUEUE_NAME = 'warren-operations';
/** A job's progress stream, under the queue's prefix like every key warren writes (before 0.x it was `warren:events:<job>`, outside it: such streams age out within their week). */
export const eventsKey = (prefix: string, jobId: string): string => `${prefix}:events:${jobId}`;
export const dedupId = (cluster: string): string => `cluster:${cluster}`;

const HealthNode = z.object({
  node: z.string(),
  host: z.string().optional(),
  running: z.boolean(),
  rabbitmqVersion: z.string().optional(),
  erlangVersion: z.string().optional(),
  alarms: z.array(z.string()),
  maintenance: z.string().optional(),
  partitionedFrom: z.array(z.string()),
});

/** A cluster's health as the status card and `warren status` show it (see rabbit/cluster-status.ts). */
export const ClusterHealthSchema = z.object({
  cluster: z.string(),
  headline: z.enum(['healthy', 'degraded', 'partitioned', 'unreachable']),
  readFrom: z.string().optional(),
  nodes: z.array(HealthNode),
  problems: z.array(z.string()),
  expected: z.array(z.string()),
  metadataStore: z.string().optional(),
  featureFlagsNotEnabled: z.array(z.string()).optional(),
  underReplicatedQueues: z.array(z.object({ vhost: z.string(), name: z.string(), online: z.array(z.string()), missing: z.array(z.string()) })).optional(),
});

/** What a finished cluster.create returns (job.returnvalue and the `completed` event's result). */
export const ClusterCreateResult = z.object({
  cluster: z.string(),
  health: ClusterHealthSchema,
  replication: z.object({ mode: z.enum(['ha-all', 'quorum', 'none']), detail: z.string() }),
  /** Where the cluster keeps its metadata: Mnesia (3.x, 4.0 by default) or Khepri (4.3; 4.0 opt-in). */
  metadataStore: z.enum(['mnesia', 'khepri']).optional(),
  /** e.g. classic mirroring is deprecated; shown to the operator, never fatal. */
  warnings: z.array(z.string()),
  /** oslo.messaging transport_url template with USER/PASS placeholders, never a password. */
  transportUrl: z.string(),
  steps: z.array(z.object({ id: z.string(), state: StepState, durationMs: z.number().optional(), detail: z.string().optional() })),
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
  health: ClusterHealthSchema.optional(),
  nodes: z.array(z.object({ host: z.string(), outcome: z.string() })),
  warnings: z.array(z.string()),
  steps: z.array(z.object({ id: z.string(), state: StepState, durationMs: z.number().optional(), detail: z.string().optional() })),
});
export type MaintenanceResult = z.infer<typeof MaintenanceResult>;
