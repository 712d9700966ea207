import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobData } from '../operations/schema.js';

/** The one BullMQ queue's name, and the deduplication id that keeps one operation per cluster. */
export const QUEUE_NAME = 'warren-operations';
export const dedupId = (cluster: string): string => `cluster:${cluster}`;

export type OperationsQueue = Queue<JobData, unknown, string>;

/** Retries for transient failures: 5 tries, 2 s doubling backoff (about a minute in all). */
export const DEFAULT_ATTEMPTS = 5;
export const DEFAULT_BACKOFF_MS = 2000;

/** The one queue every operation goes through; `prefix` isolates tests from each other. */
export function openOperationsQueue(
  connection: Redis,
  prefix = 'warren',
  retry: { attempts?: number; backoffMs?: number } = {},
): OperationsQueue {
  return new Queue<JobData, unknown, string>(QUEUE_NAME, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: retry.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: retry.backoffMs ?? DEFAULT_BACKOFF_MS },
      removeOnComplete: { age: 30 * 24 * 3600, count: 1000 },
      removeOnFail: { age: 30 * 24 * 3600, count: 1000 },
    },
  });
}
