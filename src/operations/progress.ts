import { z } from 'zod';
import { StepState } from '../steps/schema.js';
import { OperationName } from './schema.js';

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
 * A progress event: what an operation reports as it runs. The queue carries it (appended to the
 * job's Redis stream in order, see queue/events.ts); front ends replay the stream from their last
 * seen id, so nothing is lost across restarts.
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
