import { Redis } from 'ioredis';
import { z } from 'zod';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const RedisUrl = z
  .string()
  .url()
  .refine((url) => /^rediss?:\/\//.test(url), 'a redis:// or rediss:// URL');

/** The Redis URL from REDIS_URL, validated: a typo fails at start, not at the first job. */
export function redisUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return RedisUrl.parse(env.REDIS_URL ?? DEFAULT_REDIS_URL);
}

/**
 * A connection for BullMQ and for our own streams. BullMQ workers need
 * `maxRetriesPerRequest: null` so blocking commands wait out a Redis restart instead of failing.
 */
export function connectRedis(url: string = redisUrlFromEnv()): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}
