import { openOperationsQueue } from '../../queue/queue.js';
import { connectRedis, describeRedis } from '../../queue/redis.js';
import type { RedisSettings } from '../../queue/redis.js';
import { redisDownLogEveryFromEnv, watchRedisConnection } from '../../queue/redis-watch.js';
import { startBot } from './bot.js';
import type { BotOptions } from './bot.js';

export interface BotProcessOptions extends Omit<BotOptions, 'redis' | 'queue'> {
  /** The queue's Redis key prefix (`--prefix`). */
  prefix: string;
  /** Where Redis is (redisSettingsFromEnv); the process opens its own connection to it. */
  redis: RedisSettings;
}

/**
 * `warren bot` as a process: its Redis connection (watched, so an unreachable Redis is logged at once
 * and while it lasts) and queue, the bot on them, until SIGTERM or SIGINT; then the bot stops taking
 * requests and finishes what it acked before Redis is let go. One process per replica: the bot
 * scales by running more replicas behind the load balancer, all on one Redis and prefix, which is
 * where replay memory, approvals, card leases and reply claims live.
 */
export async function runBotProcess(options: BotProcessOptions): Promise<void> {
  const { prefix, redis: where, ...botOptions } = options;
  const logger = botOptions.logger;
  const redis = connectRedis(where, { logger });
  // Before anything waits on Redis: a bot started without it says so, and keeps retrying.
  const unwatch = watchRedisConnection(redis, logger, { repeatMs: redisDownLogEveryFromEnv(botOptions.env) });
  const queue = openOperationsQueue(redis, prefix);
  const bot = await startBot({ ...botOptions, redis, queue });
  logger.info({ mode: bot.mode, port: bot.port, redis: describeRedis(where) }, 'bot ready');
  const signal = await stopSignal();
  logger.info({ signal }, 'closing');
  await bot.close();
  await queue.close();
  unwatch();
  await redis.quit();
}

/** Resolves on the first SIGTERM or SIGINT, with its name. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
