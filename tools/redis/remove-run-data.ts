import type { Redis } from 'ioredis';
import type { OperationsQueue } from '../../src/queue/queue.js';

/**
 * Removes what a test or bench run left in Redis under its queue prefix: the queue's jobs and every
 * `<prefix>:*` key (cards, approvals, audit, event streams…). The queue is closed; the connection is
 * the caller's.
 */
export async function removeRunData(redis: Redis, queue: OperationsQueue, prefix: string): Promise<void> {
  await queue.obliterate({ force: true });
  await queue.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
}
