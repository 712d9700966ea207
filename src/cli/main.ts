import { hostname, userInfo } from 'node:os';
import { Command, CommanderError } from 'commander';
import { loadConfig, resolveCluster, resolveConfigPath } from '../config/load.js';
import type { WarrenConfig } from '../config/schema.js';
import { describeError, toWarrenError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { enqueueOperation } from '../queue/enqueue.js';
import { isFinalEvent, readEvents } from '../queue/events.js';
import { openOperationsQueue } from '../queue/queue.js';
import { connectRedis, redisUrlFromEnv } from '../queue/redis.js';
import { startHeartbeat, startWorker, workerHealth } from '../queue/worker.js';
import { createMetrics } from '../observability/metrics.js';
import { startObservabilityServer } from '../observability/server.js';
import { startBot } from '../slack/bot.js';
import { planOperation } from '../plan.js';
import { readClusterStatus } from '../status/read-cluster-status.js';
import { renderEvent, renderHealth, renderPlan } from './render.js';

/** Exit codes: 0 ok, 1 the operation failed / cluster unhealthy, 2 bad usage or config, 3 cluster busy. */
export const EXIT = { ok: 0, failed: 1, usage: 2, busy: 3 } as const;

interface GlobalOptions {
  config?: string;
  prefix: string;
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function configFrom(program: Command): Promise<WarrenConfig> {
  const options = program.opts<GlobalOptions>();
  return loadConfig(resolveConfigPath(options.config));
}

/** Follows a job's event stream until its final event; returns whether it completed. */
async function followJob(jobId: string): Promise<boolean> {
  const reader = connectRedis(redisUrlFromEnv());
  let lastId = '0';
  try {
    for (;;) {
      const events = await readEvents(reader, jobId, lastId, { blockMs: 5000 });
      for (const { id, event } of events) {
        lastId = id;
        const line = renderEvent(event);
        if (line !== undefined) out(line);
        if (isFinalEvent(event)) return event.type === 'job' && event.state === 'completed';
      }
    }
  } finally {
    reader.disconnect();
  }
}

async function createCluster(program: Command, clusterName: string, options: { allowWipe?: boolean; follow: boolean }): Promise<number> {
  const config = await configFrom(program);
  resolveCluster(config, clusterName);
  const redis = connectRedis(redisUrlFromEnv());
  const queue = openOperationsQueue(redis, program.opts<GlobalOptions>().prefix);
  try {
    const started = Date.now();
    const enqueued = await enqueueOperation(queue, redis, {
      operation: 'cluster.create',
      cluster: clusterName,
      options: { allowWipe: options.allowWipe ?? false },
      origin: { kind: 'cli', user: userInfo().username.slice(0, 64) },
      requestedAt: new Date().toISOString(),
    });
    if (enqueued.status === 'busy') {
      process.stderr.write(`cluster ${clusterName} is busy: job ${enqueued.jobId} is running on it. Follow it, or wait for it to end.\n`);
      return EXIT.busy;
    }
    if (!options.follow) {
      out(enqueued.jobId);
      return EXIT.ok;
    }
    const ok = await followJob(enqueued.jobId);
    out(`${ok ? 'done' : 'failed'} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return ok ? EXIT.ok : EXIT.failed;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

async function showStatus(program: Command, clusterName: string, options: { json?: boolean }): Promise<number> {
  const config = await configFrom(program);
  const health = await readClusterStatus(config, clusterName, { logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }) });
  out(options.json ? JSON.stringify(health, null, 2) : renderHealth(health));
  return health.headline === 'healthy' ? EXIT.ok : EXIT.failed;
}

/** Resolves on SIGTERM or SIGINT, after `close` has run. */
function untilSignalled(logger: ReturnType<typeof createLogger>, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'closing');
      close()
        .catch((error: unknown) => logger.error({ err: (error as Error).message }, 'did not close cleanly'))
        .finally(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function runBot(program: Command): Promise<number> {
  const config = await configFrom(program);
  const logger = createLogger({ name: 'warren-bot' });
  const redis = connectRedis(redisUrlFromEnv());
  const queue = openOperationsQueue(redis, program.opts<GlobalOptions>().prefix);
  const bot = await startBot({ config, redis, queue, env: process.env, logger });
  logger.info({ mode: bot.mode, port: bot.port }, 'bot ready');
  await untilSignalled(logger, async () => {
    await bot.close();
    await queue.close();
    await redis.quit();
  });
  return EXIT.ok;
}

async function runWorker(program: Command, options: { concurrency: string }): Promise<number> {
  const config = await configFrom(program);
  const logger = createLogger({ name: 'warren-worker' });
  const connection = connectRedis(redisUrlFromEnv());
  // How soon a job whose worker died is taken over (default 30 s; tests shorten it).
  const lockDurationMs = process.env.WARREN_LOCK_DURATION_MS ? Number(process.env.WARREN_LOCK_DURATION_MS) : undefined;
  const metrics = createMetrics();
  const running = await startWorker({
    config,
    connection,
    metrics,
    prefix: program.opts<GlobalOptions>().prefix,
    logger,
    concurrency: Number(options.concurrency),
    ...(lockDurationMs && lockDurationMs > 0 ? { lockDurationMs } : {}),
  });
  const stopHeartbeat = startHeartbeat(connection, program.opts<GlobalOptions>().prefix, `${hostname()}-${process.pid}`);
  // /metrics and /healthz on WARREN_METRICS_PORT, when set (two workers on one host need two ports).
  const metricsPort = process.env.WARREN_METRICS_PORT;
  const observability = metricsPort
    ? await startObservabilityServer({ port: Number(metricsPort), registry: metrics.registry, health: () => workerHealth(running, connection) })
    : undefined;
  logger.info({ concurrency: Number(options.concurrency), metricsPort: observability?.port }, 'worker ready');
  // SIGTERM: stop taking jobs, let running ones finish, then leave.
  await untilSignalled(logger, async () => {
    await running.close();
    await stopHeartbeat();
    await observability?.close();
    await connection.quit();
  });
  return EXIT.ok;
}

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('warren')
    .description('Build and run RabbitMQ clusters over SSH')
    .option('-c, --config <file>', 'config file (default: $WARREN_CONFIG or config/warren.yaml)')
    .option('--prefix <prefix>', 'Redis key prefix of the queue', process.env.WARREN_QUEUE_PREFIX ?? 'warren')
    .showHelpAfterError()
    .exitOverride();

  const run = (work: () => Promise<number>) => async () => setExitCode(await work());

  program
    .command('cluster')
    .description('cluster operations')
    .command('create <cluster>')
    .description('queue a cluster create and follow it live')
    .option('--allow-wipe', 'join nodes even if that wipes their queues or another cluster membership')
    .option('--no-follow', 'print the job id and return at once')
    .action((cluster: string, options: { allowWipe?: boolean; follow: boolean }) => run(() => createCluster(program, cluster, options))());

  program
    .command('plan')
    .description('dry run: the commands each host would get; nothing is run')
    .command('cluster')
    .command('create <cluster>')
    .action(async (cluster: string) => {
      const config = await configFrom(program);
      out(renderPlan(cluster, planOperation(config, 'cluster.create', cluster)));
      setExitCode(EXIT.ok);
    });

  program
    .command('status <cluster>')
    .description("a cluster's health, read from the seed (or another node when the seed is down)")
    .option('--json', 'print the parsed status as JSON')
    .action((cluster: string, options: { json?: boolean }) => run(() => showStatus(program, cluster, options))());

  program
    .command('worker')
    .description('run a worker: takes jobs from the queue until SIGTERM')
    .option('--concurrency <n>', 'jobs at once (each on a different cluster)', '4')
    .action((options: { concurrency: string }) => run(() => runWorker(program, options))());

  program
    .command('bot')
    .description('run the Slack app (HTTP or Socket Mode, chosen by environment; see docs/slack.md)')
    .action(() => run(() => runBot(program))());

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (thrown) {
    if (thrown instanceof CommanderError) return thrown.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const error = toWarrenError(thrown);
    process.stderr.write(`${describeError(error.toJSON())}\n`);
    return error.code.startsWith('config.') || error.code === 'cluster.unknown' ? EXIT.usage : EXIT.failed;
  }
  return code;
}
