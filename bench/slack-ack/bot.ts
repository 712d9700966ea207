/**
 * The bot under test for the ack benchmark, in its own process so the load generator does not share
 * its event loop: the real bot (Bolt's HTTPReceiver behind warren's delivery checks, production logger on stderr) on
 * real Redis,
 * talking to the Slack emulator at SLACK_API_URL. Prints `READY {"port":…}` when it listens; on
 * SIGUSR2 waits for the work after the acks so far, then prints `STATS {serverMs, cpuMs}`: the
 * server-side time of each request and the CPU the bot used since the last; on SIGTERM it
 * stops and removes what it put in Redis.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../../src/log/logger.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { startBot } from '../../src/slack/runtime/bot.js';
import { SIGNING_SECRET, healthyCluster, testConfig } from '../../tools/slack-emulator/harness.js';
import { refuseAllGates } from '../../tools/slack-emulator/gates.js';
import { removeRunData } from '../../tools/redis/remove-run-data.js';

const prefix = `bench-slack-${randomUUID().slice(0, 8)}`;
const redis = connectRedis();
const queue = openOperationsQueue(redis, prefix);
const bot = await startBot({
  config: testConfig(),
  redis,
  queue,
  env: {
    SLACK_BOT_TOKEN: process.env.SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: process.env.SLACK_API_URL,
    PORT: '0',
  },
  logger: createLogger({ level: 'info' }),
  checkSafetyGates: refuseAllGates,
  readClusterStatus: (_config, cluster) => Promise.resolve(healthyCluster(cluster)),
});

// Server-side view: from the request reaching Node (headers parsed) to the response handed to the kernel.
const serverMs: number[] = [];
bot.server?.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
  const started = performance.now();
  res.on('finish', () => serverMs.push(performance.now() - started));
});
process.stdout.write(`READY ${JSON.stringify({ port: bot.port })}\n`);
let cpuSince = process.cpuUsage();
process.on('SIGUSR2', () => {
  // The follow-ups of the commands acked so far are part of their cost: wait for them before reading the CPU.
  const asked = performance.now();
  void bot.afterAck.idle().then(() => {
    const drainMs = performance.now() - asked;
    const cpu = process.cpuUsage(cpuSince);
    cpuSince = process.cpuUsage();
    process.stdout.write(
      `STATS ${JSON.stringify({ serverMs: serverMs.splice(0), cpuMs: (cpu.user + cpu.system) / 1000, drainMs })}\n`,
    );
  });
});

process.on('SIGTERM', () => {
  void (async () => {
    await bot.close();
    await removeRunData(redis, queue, prefix);
    redis.disconnect();
    process.exit(0);
  })();
});
