import { z } from 'zod';
import { MAX_DELETE_QUEUES, ShownQueue } from '../rabbit/quorum-migration.js';

/** Where a step (or one host's part of it) stands; the runner, the events and the results all use these words. */
export const StepState = z.enum(['pending', 'running', 'done', 'skipped', 'failed']);
export type StepState = z.infer<typeof StepState>;

/** What a request may allow the steps to do; carried in the job payload (see operations/schema.ts). */
export const JobOptions = z
  .object({
    /** Join nodes even when the join would wipe queues or another cluster's membership. */
    allowWipe: z.boolean().default(false),
    /** delete-classic-queues: the queues the request showed (approval card, terminal); only these may be deleted. */
    classicQueues: z.array(ShownQueue).max(MAX_DELETE_QUEUES).optional(),
  })
  .strict();
export type JobOptions = z.infer<typeof JobOptions>;
