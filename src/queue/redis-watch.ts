import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';

/** While Redis stays unreachable, the outage is logged again this often. */
export const REDIS_DOWN_LOG_EVERY_MS = 30_000;

/**
 * Makes a connection's outages visible: ioredis retries for ever but says nothing (or prints an
 * "Unhandled error event" to the console). The first error is logged at once as
 * `redis.unreachable` (error level, naming host and port, never a password), again every
 * `repeatMs` while it lasts, and the reconnection as `redis.reconnected`. Returns a function that
 * stops watching.
 */
export function watchRedisConnection(redis: Redis, logger: Logger, options: { repeatMs?: number } = {}): () => void {
  const repeatMs = options.repeatMs ?? REDIS_DOWN_LOG_EVERY_MS;
  const target = redis.options.path ?? `${redis.options.host ?? '127.0.0.1'}:${redis.options.port ?? 6379}`;
  let downSince: number | undefined;
  let lastLogged = 0;
  let failures = 0;
  const onError = (error: Error): void => {
    const now = Date.now();
    failures += 1;
    if (downSince === undefined) downSince = now;
    else if (now - lastLogged < repeatMs) return;
    lastLogged = now;
    logger.error(
      {
        code: 'redis.unreachable',
        target,
        err: error.message,
        failures,
        downForSeconds: Math.round((now - downSince) / 1000),
      },
      'redis unreachable: retrying (nothing that needs Redis works until it ' +
        'is back; check REDIS_URL and that Redis runs)',
    );
  };
  const onReady = (): void => {
    if (downSince === undefined) return;
    logger.info(
      { code: 'redis.reconnected', target, downForSeconds: Math.round((Date.now() - downSince) / 1000), failures },
      'redis connection back',
    );
    downSince = undefined;
    failures = 0;
  };
  redis.on('error', onError);
  redis.on('ready', onReady);
  return () => {
    redis.off('error', onError);
    redis.off('ready', onReady);
  };
}

/** The repeat interval from WARREN_REDIS_DOWN_LOG_EVERY_MS (tests), else the default. */
export function redisDownLogEveryFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.WARREN_REDIS_DOWN_LOG_EVERY_MS);
  return Number.isInteger(value) && value > 0 ? value : REDIS_DOWN_LOG_EVERY_MS;
}
