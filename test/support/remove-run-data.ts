import type { Redis } from 'ioredis';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { eventsKey } from '../../src/queue/schema.js';

/**
 * Removes what a test or bench run left in Redis under its queue prefix: the queue's jobs, every
 * `<prefix>:*` key (cards, approvals, audit…), and the jobs' event streams, which live outside the
 * prefix (`warren:events:<jobId>`). The queue is closed; the connection is the caller's.
 */
export async function removeRunData(redis: Redis, queue: OperationsQueue, prefix: string): Promise<void> {
  const jobIds = (await queue.getJobs()).flatMap((job) => (job.id ? [job.id] : []));
  await queue.obliterate({ force: true });
  await queue.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length + jobIds.length > 0) await redis.del(...keys, ...jobIds.map(eventsKey));
}
