import { hostname, userInfo } from 'node:os';
import { Command, CommanderError } from 'commander';
import { loadConfig, resolveCluster, resolveConfigPath } from '../config/load.js';
import type { WarrenConfig } from '../config/schema.js';
import { describeError, toWarrenError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { AuditLog } from '../audit/store.js';
import type { AuditEntry } from '../audit/schema.js';
import { enqueueOperation, runningOperationFor } from '../queue/enqueue.js';
import type { DestructiveOperation } from '../gates/schema.js';
import { MembershipStore } from '../state/membership.js';
import type { MembershipOverrides } from '../state/membership.js';
import { isFinalEvent, readEventBatch } from '../queue/events.js';
import { openOperationsQueue } from '../queue/queue.js';
import { connectRedis, describeRedis, redisSettingsFromEnv } from '../queue/redis.js';
import type { Redis } from 'ioredis';
import { redisDownLogEveryFromEnv, watchRedisConnection } from '../queue/redis-watch.js';
import { startHeartbeat, startWorker, workerHealth } from '../queue/worker.js';
import { createMetrics } from '../observability/metrics.js';
import { startObservabilityServer } from '../observability/server.js';
import { runBotProcesses, startBotProcess } from '../slack/bot-processes.js';
import { botProcessesFromEnv } from '../slack/env.js';
import { checkSafetyGates } from '../gates/check.js';
import { planOperation } from '../plan.js';
import { STATUS_DEADLINE_MS, readClusterStatus } from '../status/read-cluster-status.js';
import { addDashboardCommand } from './dashboard-command.js';
import { terminalJson, terminalText } from '../untrusted-text.js';
import { renderAudit, renderEvent, renderGates, renderHealth, renderPlan } from './render.js';
import { operations } from '../../jobs/index.js';

/** Exit codes: 0 ok, 1 the operation failed / cluster unhealthy, 2 bad usage or config, 3 cluster busy. */
export const EXIT = { ok: 0, failed: 1, usage: 2, busy: 3 } as const;

interface GlobalOptions {
  config?: string;
  prefix: string;
}

/** A Redis connection from the environment (REDIS_URL or Sentinel); critical writes' warnings go to stderr. */
function redisFromEnv(logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' })): Redis {
  return connectRedis(redisSettingsFromEnv(), { logger });
}

/** The one way the CLI prints to stdout: whatever a host or Redis put in the line, no control character reaches the terminal. */
function out(line: string): void {
  process.stdout.write(`${terminalText(line)}\n`);
}

/** The one way the CLI prints to stderr, as `out`. */
function err(line: string): void {
  process.stderr.write(`${terminalText(line)}\n`);
}

/** JSON for a terminal: the invisible characters JSON.stringify leaves raw become \u escapes, so the data stays intact. */
function outJson(value: unknown): void {
  process.stdout.write(`${terminalJson(JSON.stringify(value, null, 2))}\n`);
}

async function configFrom(program: Command): Promise<WarrenConfig> {
  const options = program.opts<GlobalOptions>();
  return loadConfig(resolveConfigPath(options.config));
}

/** Follows a job's event stream until its final event; returns whether it completed. */
async function followJob(prefix: string, jobId: string): Promise<boolean> {
  const reader = redisFromEnv();
  let lastId = '0';
  try {
    for (;;) {
      const batch = await readEventBatch(reader, prefix, jobId, lastId, { blockMs: 5000 });
      for (const bad of batch.skipped) process.stderr.write(`${bad.code}: stream entry ${bad.id} of job ${jobId} skipped (${bad.reason})\n`);
      // Past skipped entries too: a bad last entry must not be read again at once, in a loop.
      if (batch.position !== undefined) lastId = batch.position;
      for (const { event } of batch.events) {
        const line = renderEvent(event);
        if (line !== undefined) out(line);
        if (isFinalEvent(event)) return event.type === 'job' && event.state === 'completed';
      }
    }
  } finally {
    reader.disconnect();
  }
}

/** --no-follow prints the queued job's id; otherwise the job is followed live to its end. */
async function reportQueued(prefix: string, jobId: string, follow: boolean, started: number): Promise<number> {
  if (!follow) {
    out(jobId);
    return EXIT.ok;
  }
  const ok = await followJob(prefix, jobId);
  out(`${ok ? 'done' : 'failed'} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return ok ? EXIT.ok : EXIT.failed;
}

async function createCluster(program: Command, clusterName: string, options: { allowWipe?: boolean; follow: boolean }): Promise<number> {
  const config = await configFrom(program);
  resolveCluster(config, clusterName);
  const redis = redisFromEnv();
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
      err(`cluster ${clusterName} is busy: job ${enqueued.jobId} is running on it. Follow it, or wait for it to end.`);
      return EXIT.busy;
    }
    return await reportQueued(program.opts<GlobalOptions>().prefix, enqueued.jobId, options.follow, started);
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** The cluster's membership changes (node.add/node.remove) under the queue's prefix. */
async function membershipOf(program: Command, cluster: string): Promise<MembershipOverrides> {
  const redis = redisFromEnv();
  try {
    return await new MembershipStore(redis, program.opts<GlobalOptions>().prefix).read(cluster);
  } finally {
    redis.disconnect();
  }
}

function cliUser(): string {
  return userInfo().username.slice(0, 64);
}

function describeRequest(operation: DestructiveOperation, cluster: string, node?: string): string {
  return `${operation.replace('.', ' ')} ${cluster}${node ? ` ${node}` : ''}`;
}

/**
 * A destructive operation from the terminal. Without --yes: the plan and the gates' verdict, and
 * nothing else (exit 2). With --yes: gates first (refused: exit 1), busy (exit 3), else audited as
 * requested with chat approval bypassed, queued with a cli-yes authorization, and followed.
 */
async function destructive(program: Command, operation: DestructiveOperation, clusterName: string, node: string | undefined, options: { yes?: boolean; follow: boolean }): Promise<number> {
  const config = await configFrom(program);
  const prefix = program.opts<GlobalOptions>().prefix;
  const membership = await membershipOf(program, clusterName);
  const what = describeRequest(operation, clusterName, node);
  const plan = planOperation(config, operation, clusterName, node, { membership });
  const gates = await checkSafetyGates(config, { operation, cluster: clusterName, ...(node ? { node } : {}) }, { membership, logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }) });
  if (!options.yes) {
    out(renderPlan(clusterName, plan, what));
    out('');
    out(renderGates(gates));
    out('');
    out(`${what} destroys data and was not run. Ask for it in Slack (/rabbit ${what}) to get a second person's approval,`);
    out('or add --yes to run it now: --yes bypasses chat approval and is recorded in the audit log as such.');
    return EXIT.usage;
  }
  const redis = redisFromEnv();
  const queue = openOperationsQueue(redis, prefix);
  const audit = new AuditLog(redis, prefix);
  const entry = (event: AuditEntry['event'], detail: string, jobId?: string): AuditEntry => ({
    at: new Date().toISOString(),
    event,
    operation,
    cluster: clusterName,
    ...(node ? { node } : {}),
    actor: `cli:${cliUser()}`,
    via: 'cli',
    ...(jobId ? { jobId } : {}),
    detail: detail.slice(0, 500),
  });
  try {
    if (!gates.allowed) {
      out(renderGates(gates));
      const failed = gates.checks.filter((c) => !c.ok);
      await audit.append(entry('refused', `gates: ${failed.map((c) => c.detail).join('; ')}`));
      err(`${what} refused by the safety gates (see above); nothing was run.`);
      return EXIT.failed;
    }
    const running = await runningOperationFor(queue, clusterName);
    if (running) {
      await audit.append(entry('refused', `cluster busy: job ${running}`, running));
      err(`cluster ${clusterName} is busy: job ${running} is running on it. Follow it, or wait for it to end.`);
      return EXIT.busy;
    }
    await audit.append(entry('requested', '--yes: chat approval bypassed'));
    const started = Date.now();
    const enqueued = await enqueueOperation(queue, redis, {
      operation,
      cluster: clusterName,
      ...(node ? { node } : {}),
      origin: { kind: 'cli', user: cliUser() },
      authorization: { kind: 'cli-yes', user: cliUser() },
      requestedAt: new Date().toISOString(),
    });
    if (enqueued.status === 'busy') {
      await audit.append(entry('refused', `cluster busy: job ${enqueued.jobId}`, enqueued.jobId));
      err(`cluster ${clusterName} is busy: job ${enqueued.jobId} is running on it.`);
      return EXIT.busy;
    }
    return await reportQueued(program.opts<GlobalOptions>().prefix, enqueued.jobId, options.follow, started);
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

async function showAudit(program: Command, cluster: string | undefined, options: { limit: string; json?: boolean }): Promise<number> {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    err('--limit must be a whole number from 1 to 10000');
    return EXIT.usage;
  }
  const redis = redisFromEnv();
  try {
    const entries = await new AuditLog(redis, program.opts<GlobalOptions>().prefix).latest({ ...(cluster ? { cluster } : {}), limit });
    if (options.json) outJson(entries);
    else out(renderAudit(entries));
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}

async function showStatus(program: Command, clusterName: string, options: { json?: boolean }): Promise<number> {
  const config = await configFrom(program);
  const membership = await membershipOf(program, clusterName);
  const health = await readClusterStatus(config, clusterName, {
    logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
    membership,
    // Held up (a node gone silent holds cluster_status ~60 s): say on stderr what is known meanwhile,
    // sooner than the bot does (5 s, not 8): the process's own start already took a second or more.
    earlyAfterMs: 5000,
    onEarly: (early) => err(`${renderHealth(early)}\n(still reading; the full status follows, within ${STATUS_DEADLINE_MS / 1000} s)`),
  });
  if (options.json) outJson(health);
  else out(renderHealth(health));
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
  const prefix = program.opts<GlobalOptions>().prefix;
  // Read before any process starts: a bad Redis setting fails here, once, with config.invalid.
  const redis = redisSettingsFromEnv();
  // WARREN_BOT_PROCESSES > 1: node:cluster re-runs `warren bot` with the same argv for each process,
  // all on one port; with 1 (the default) the bot runs in this process. Signals are handled there.
  await runBotProcesses({
    processes: botProcessesFromEnv(process.env),
    logger,
    start: () => startBotProcess({ config, prefix, redis, env: process.env, logger, checkSafetyGates }),
    onReady: ({ port, pids }) => logger.info({ port, pids, redis: describeRedis(redis) }, 'bot ready'),
  });
  return EXIT.ok;
}

async function runWorker(program: Command, options: { concurrency: string }): Promise<number> {
  const config = await configFrom(program);
  const logger = createLogger({ name: 'warren-worker' });
  const redis = redisSettingsFromEnv();
  const connection = connectRedis(redis, { logger });
  // The worker retries an unreachable Redis as the bot does, and says so.
  watchRedisConnection(connection, logger, { repeatMs: redisDownLogEveryFromEnv() });
  // How soon a job whose worker died is taken over (default 30 s; tests shorten it).
  const lockDurationMs = process.env.WARREN_LOCK_DURATION_MS ? Number(process.env.WARREN_LOCK_DURATION_MS) : undefined;
  const metrics = createMetrics();
  const running = await startWorker({
    operations,
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
  logger.info({ concurrency: Number(options.concurrency), metricsPort: observability?.port, redis: describeRedis(redis) }, 'worker ready');
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

  const clusterCommand = program.command('cluster').description('cluster operations');
  clusterCommand
    .command('create <cluster>')
    .description('queue a cluster create and follow it live')
    .option('--allow-wipe', 'join nodes even if that wipes their queues or another cluster membership')
    .option('--no-follow', 'print the job id and return at once')
    .action((cluster: string, options: { allowWipe?: boolean; follow: boolean }) => run(() => createCluster(program, cluster, options))());
  clusterCommand
    .command('teardown <cluster>')
    .description('reset every node of the cluster (destroys all its data); without --yes: plan and gates only')
    .option('--yes', 'run it now, bypassing chat approval (audited as such)')
    .option('--no-follow', 'print the job id and return at once')
    .action((cluster: string, options: { yes?: boolean; follow: boolean }) => run(() => destructive(program, 'cluster.teardown', cluster, undefined, options))());

  const nodeCommand = program.command('node').description('node operations (destructive: each needs --yes here, or an approval in Slack)');
  for (const [verb, operation, description] of [
    ['reset', 'node.reset', 'stop_app, reset, start_app: the node leaves the cluster as a blank single node'],
    ['remove', 'node.remove', 'stop the node, forget it on a running peer, reset it and leave it stopped'],
    ['add', 'node.add', 'install, cookie and join one more inventory host (the join wipes it)'],
  ] as const) {
    nodeCommand
      .command(`${verb} <cluster> <host>`)
      .description(`${description}; without --yes: plan and gates only`)
      .option('--yes', 'run it now, bypassing chat approval (audited as such)')
      .option('--no-follow', 'print the job id and return at once')
      .action((cluster: string, node: string, options: { yes?: boolean; follow: boolean }) => run(() => destructive(program, operation, cluster, node, options))());
  }

  const planCommand = program.command('plan').description('dry run: the commands each host would get; nothing is run');
  const planCluster = planCommand.command('cluster');
  planCluster.command('create <cluster>').action(async (cluster: string) => {
    const config = await configFrom(program);
    out(renderPlan(cluster, planOperation(config, 'cluster.create', cluster, undefined, { membership: await membershipOf(program, cluster) })));
    setExitCode(EXIT.ok);
  });
  planCluster.command('teardown <cluster>').action(async (cluster: string) => {
    const config = await configFrom(program);
    out(renderPlan(cluster, planOperation(config, 'cluster.teardown', cluster, undefined, { membership: await membershipOf(program, cluster) }), `cluster teardown ${cluster}`));
    setExitCode(EXIT.ok);
  });
  const planNode = planCommand.command('node');
  for (const verb of ['reset', 'remove', 'add'] as const) {
    planNode.command(`${verb} <cluster> <host>`).action(async (cluster: string, node: string) => {
      const config = await configFrom(program);
      out(renderPlan(cluster, planOperation(config, `node.${verb}`, cluster, node, { membership: await membershipOf(program, cluster) }), `node ${verb} ${cluster} ${node}`));
      setExitCode(EXIT.ok);
    });
  }

  program
    .command('audit [cluster]')
    .description('the latest audit entries (destructive requests, approvals, refusals, results), oldest first')
    .option('--limit <n>', 'how many entries', '20')
    .option('--json', 'print the entries as JSON')
    .action((cluster: string | undefined, options: { limit: string; json?: boolean }) => run(() => showAudit(program, cluster, options))());

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

  addDashboardCommand(program, setExitCode);

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
    err(`${describeError(error.toJSON())}`);
    return error.code.startsWith('config.') || error.code === 'cluster.unknown' || error.code === 'node.unknown' ? EXIT.usage : EXIT.failed;
  }
  return code;
}
