import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { publishEvent } from './events.js';
import type { OperationsQueue } from './queue.js';
import { JobData, dedupId } from './schema.js';
import type { JobRequest } from './schema.js';

export type EnqueueResult =
  | { status: 'queued'; jobId: string; data: JobData }
  /** Another operation holds the cluster: its job id, so the caller can point at it. */
  | { status: 'busy'; jobId: string };

/**
 * Queues an operation, one per cluster at a time: BullMQ's deduplication (simple mode) keeps the
 * cluster's id until the running job completes or finally fails, across workers and restarts.
 */
export async function enqueueOperation(queue: OperationsQueue, redis: Redis, request: JobRequest): Promise<EnqueueResult> {
  const data = JobData.parse(request);
  const running = await queue.getDeduplicationJobId(dedupId(data.cluster));
  if (running) return { status: 'busy', jobId: running };
  const jobId = randomUUID();
  const job = await queue.add(data.operation, data, { jobId, deduplication: { id: dedupId(data.cluster) } });
  // A deduplicated add returns the job that holds the id: someone else got there first.
  if (job.id !== jobId) return { status: 'busy', jobId: String(job.id) };
  await publishEvent(redis, {
    type: 'job',
    jobId,
    operation: data.operation,
    cluster: data.cluster,
    state: 'queued',
    attempt: 0,
    at: new Date().toISOString(),
  });
  return { status: 'queued', jobId, data };
}

/** The job currently holding the cluster, if any. */
export async function runningOperationFor(queue: OperationsQueue, cluster: string): Promise<string | undefined> {
  return (await queue.getDeduplicationJobId(dedupId(cluster))) ?? undefined;
}
