import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { publishEvent } from './events.js';
import type { OperationsQueue } from './queue.js';
import { JobData } from '../operations/schema.js';
import { dedupId } from './queue.js';
import type { JobRequest } from '../operations/schema.js';

export type EnqueueResult =
  /** `repeated`: a caller-named job that was queued before (this add changed nothing). */
  | { status: 'queued'; jobId: string; data: JobData; repeated?: boolean }
  /** Another operation holds the cluster: its job id, so the caller can point at it. */
  | { status: 'busy'; jobId: string };

/**
 * Queues an operation, one per cluster at a time: BullMQ's deduplication (simple mode) keeps the
 * cluster's id until the running job completes or finally fails, across workers and restarts.
 * With `jobId` (not an integer, no ':', as BullMQ requires) the add is idempotent: a caller that
 * repeats it, not knowing whether the first one went through, finds that job instead of queueing
 * a second one or hearing "busy" from its own job. Callers adding the same id at the same moment
 * would both announce it queued: they take turns (the approval release holds a lock).
 */
export async function enqueueOperation(
  queue: OperationsQueue,
  redis: Redis,
  request: JobRequest,
  options: { jobId?: string } = {},
): Promise<EnqueueResult> {
  const data = JobData.parse(request);
  const running = await queue.getDeduplicationJobId(dedupId(data.cluster));
  // A named job queued before is this request, whether it still holds the cluster or has ended
  // since (then another operation may hold it now): it must not run twice, nor be called busy.
  // Its 'queued' event is not published again either: that would put its card back to "queued".
  if (options.jobId !== undefined && (running === options.jobId || (await queue.getJob(options.jobId))))
    return { status: 'queued', jobId: options.jobId, data, repeated: true };
  if (running) return { status: 'busy', jobId: running };
  const jobId = options.jobId ?? randomUUID();
  const job = await queue.add(data.operation, data, { jobId, deduplication: { id: dedupId(data.cluster) } });
  // A deduplicated add returns the job that holds the id: someone else got there first.
  if (job.id !== jobId) return { status: 'busy', jobId: String(job.id) };
  await publishEvent(redis, queue.opts.prefix ?? 'warren', {
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
