import type { Redis } from 'ioredis';
import type { HealthReport } from '../../observability/server.js';
import { messageOf } from '../../errors.js';

/** How long Redis gets to answer a health check before it counts as down. */
const REDIS_ANSWER_MS = 1000;
/** Keys SCAN looks at per call; the walk stops at the first heartbeat found. */
const SCAN_COUNT = 1000;

type Check = HealthReport['checks'][string];

/**
 * The bot is healthy when its Redis answers within a second and at least one worker's heartbeat
 * (`<prefix>:heartbeat:worker:*`, written by src/queue/worker.ts) exists: without a worker, every
 * command the bot accepts would wait in the queue.
 */
export async function botHealth(redis: Redis, prefix: string): Promise<HealthReport> {
  const redisCheck = await within(
    REDIS_ANSWER_MS,
    redis.ping().then(
      (): Check => ({ ok: true }),
      (error: unknown): Check => ({ ok: false, detail: messageOf(error) }),
    ),
  );
  // A Redis that does not answer cannot say whether workers live; asking again would only wait again.
  const workers: Check = redisCheck.ok
    ? await checkWorkers(redis, prefix)
    : { ok: false, detail: 'not checked: Redis did not answer' };
  return { healthy: redisCheck.ok && workers.ok, checks: { redis: redisCheck, workers } };
}

async function checkWorkers(redis: Redis, prefix: string): Promise<Check> {
  return within(
    REDIS_ANSWER_MS,
    findHeartbeat(redis, prefix).then(
      (hit): Check =>
        hit
          ? { ok: true }
          : {
              ok: false,
              detail: `no worker heartbeat under ${prefix}:heartbeat:worker:* (start a worker with the same --prefix)`,
            },
      (error: unknown): Check => ({ ok: false, detail: messageOf(error) }),
    ),
  );
}

async function findHeartbeat(redis: Redis, prefix: string): Promise<boolean> {
  const pattern = `${escapeGlob(prefix)}:heartbeat:worker:*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
    if (keys.length > 0) return true;
    cursor = next;
  } while (cursor !== '0');
  return false;
}

/** A prefix is a name, not a pattern: its glob characters match only themselves. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** The check's own answer, or a failure once `ms` pass (ioredis queues commands while disconnected). */
function within(ms: number, check: Promise<Check>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Check>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${ms} ms` }), ms);
  });
  return Promise.race([check, timeout]).finally(() => clearTimeout(timer));
}
