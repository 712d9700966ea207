/**
 * The bot under test as several processes on one port (`run.ts --processes N`): the same bot as
 * bot.ts, started by warren's own runBotProcesses (node:cluster, as `warren bot` with
 * WARREN_BOT_PROCESSES=N), all processes on one queue prefix as a real deployment shares one.
 * Speaks bot.ts's protocol to run.ts: `READY {"port"}` once every process listens; on SIGUSR2 every
 * process waits for its work after the acks, then one `STATS` line sums them: each request's
 * server-side time, the CPU of all processes plus the primary's, and each process's resident memory.
 * On SIGTERM everything closes and the queue and keys are removed.
 */
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../../src/log/logger.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { runBotProcesses, startBotProcess } from '../../src/slack/bot-processes.js';
import { SIGNING_SECRET, healthyCluster, testConfig } from '../../tools/slack-emulator/harness.js';
import { refuseAllGates } from '../../tools/slack-emulator/gates.js';
import { removeRunData } from '../../tools/redis/remove-run-data.js';

interface Stats {
  serverMs: number[];
  cpuMs: number;
  drainMs: number;
  rssMb: number[];
}

// The primary picks the prefix; forked processes inherit its environment.
if (cluster.isPrimary) process.env.BENCH_PREFIX = `bench-slack-${randomUUID().slice(0, 8)}`;
const prefix = process.env.BENCH_PREFIX ?? 'bench-slack';
const processes = Number(process.env.BENCH_BOT_PROCESSES ?? 2);
const logger = createLogger({ level: 'info' });

if (cluster.isPrimary) {
  // SIGUSR2: ask every process for its stats, add the primary's own CPU (it accepts and hands out connections).
  let cpuSince = process.cpuUsage();
  let asked = 0;
  const parts = new Map<number, Stats[]>();
  cluster.on('message', (_worker, message: { type?: string; id?: number; stats?: Stats }) => {
    if (message.type !== 'bench:stats' || message.id === undefined || !message.stats) return;
    const got = parts.get(message.id) ?? [];
    got.push(message.stats);
    parts.set(message.id, got);
    if (got.length < Object.keys(cluster.workers ?? {}).length) return;
    parts.delete(message.id);
    const own = process.cpuUsage(cpuSince);
    cpuSince = process.cpuUsage();
    const stats: Stats = {
      serverMs: got.flatMap((s) => s.serverMs),
      cpuMs: got.reduce((sum, s) => sum + s.cpuMs, 0) + (own.user + own.system) / 1000,
      drainMs: Math.max(...got.map((s) => s.drainMs)),
      rssMb: [Math.round(process.memoryUsage().rss / 1048576), ...got.flatMap((s) => s.rssMb)],
    };
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
  });
  process.on('SIGUSR2', () => {
    asked += 1;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.send({ type: 'bench:stats', id: asked });
  });
}

await runBotProcesses({
  processes,
  logger,
  start: async () => {
    const started = await startBotProcess({
      config: testConfig(),
      prefix,
      env: { SLACK_BOT_TOKEN: process.env.SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: process.env.SLACK_API_URL, PORT: '0' },
      logger,
      checkSafetyGates: refuseAllGates,
      readClusterStatus: (_config, cluster) => Promise.resolve(healthyCluster(cluster)),
    });
    const { bot } = started;
    // Server-side view, as bot.ts measures it: request parsed → response handed to the kernel.
    const serverMs: number[] = [];
    bot.server?.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      const started = performance.now();
      res.on('finish', () => serverMs.push(performance.now() - started));
    });
    let cpuSince = process.cpuUsage();
    process.on('message', (raw: unknown) => {
      const message = raw as { type?: string; id?: number };
      if (message.type !== 'bench:stats') return;
      const asked = performance.now();
      void bot.afterAck.idle().then(() => {
        const cpu = process.cpuUsage(cpuSince);
        cpuSince = process.cpuUsage();
        const stats: Stats = { serverMs: serverMs.splice(0), cpuMs: (cpu.user + cpu.system) / 1000, drainMs: performance.now() - asked, rssMb: [Math.round(process.memoryUsage().rss / 1048576)] };
        process.send?.({ type: 'bench:stats', id: message.id, stats });
      });
    });
    return started;
  },
  onReady: ({ port }) => process.stdout.write(`READY ${JSON.stringify({ port })}\n`),
});

if (cluster.isPrimary) {
  // Every bot process has closed: remove what the run put in Redis, as bot.ts does.
  const redis = connectRedis();
  await removeRunData(redis, openOperationsQueue(redis, prefix), prefix);
  redis.disconnect();
}
process.exit(0);
