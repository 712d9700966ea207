import { hostname, userInfo } from 'node:os';
import { Command, CommanderError } from 'commander';
import { loadConfig, resolveCluster, resolveConfigPath } from '../config/load.js';
import type { WarrenConfig } from '../config/schema.js';
import { describeError, messageOf, stackOf, toWarrenError } from '../errors.js';
import type { WarrenError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { AuditLog } from '../audit/store.js';
import { enqueueOperation, runningOperationFor } from '../queue/enqueue.js';
import type { DestructiveOperation } from '../gates/schema.js';
import { MembershipStore } from '../state/membership.js';
import type { MembershipOverrides } from '../state/membership.js';
import { isFinalEvent, readEventBatch } from '../queue/events.js';
import { openOperationsQueue } from '../queue/queue.js';
import type { OperationsQueue } from '../queue/queue.js';
import { connectRedis, describeRedis, redisSettingsFromEnv } from '../queue/redis.js';
import type { Redis } from 'ioredis';
import { redisDownLogEveryFromEnv, watchRedisConnection } from '../queue/redis-watch.js';
import { startHeartbeat, startWorker, workerHealth } from '../queue/worker.js';
import { addWatchGauges, createMetrics, observeCommand } from '../observability/metrics.js';
import { startObservabilityServer } from '../observability/server.js';
import { runBotProcess } from '../slack/runtime/process.js';
import { checkSafetyGates } from '../gates/check.js';
import { planOperation } from '../plan.js';
import { STATUS_DEADLINE_MS, readClusterStatus } from '../status/read-cluster-status.js';
import { addDashboardCommand } from './dashboard-command.js';
import { terminalJson, terminalText } from '../untrusted-text.js';
import {
  renderAudit,
  renderEvent,
  renderGates,
  renderHealth,
  renderMigration,
  renderPlan,
  renderUpgradeReport,
} from './render.js';
import { parseCommand } from '../commands/parse.js';
import { commandsOf, describeFor } from '../commands/operations.js';
import type { CommandName, RabbitCommand, UsageError } from '../commands/schema.js';
import { planClusterCreate, requestClusterCreate } from '../requests/cluster-create.js';
import { requestDestructive } from '../requests/destructive.js';
import type { RequestPorts } from '../requests/ports.js';
import { requestUpgradeCheck } from '../requests/upgrade-check.js';
import { readUpgradeReadiness } from '../status/read-upgrade-readiness.js';
import { operations } from '../../jobs/index.js';
import { watchTick } from '../../jobs/watch.js';
import { WatchStore, openWatchQueue, startWatchWorker, watchPortsOf } from '../queue/watch.js';
import { listWatches, requestUnwatch, requestWatch } from '../requests/watch.js';
import type { WatchPorts } from '../requests/watch.js';

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

/**
 * The one way the CLI prints to stdout: whatever a host or Redis put in the line, no control character reaches the
 * terminal.
 */
function out(line: string): void {
  process.stdout.write(`${terminalText(line)}\n`);
}

/** The one way the CLI prints to stderr, as `out`. */
function err(line: string): void {
  process.stderr.write(`${terminalText(line)}\n`);
}

/**
 * JSON for a terminal: the invisible characters JSON.stringify leaves raw become \u escapes, so the data stays intact.
 */
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
      for (const bad of batch.skipped)
        process.stderr.write(`${bad.code}: stream entry ${bad.id} of job ${jobId} skipped (${bad.reason})\n`);
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

/**
 * Where the CLI's requests go: the request layer's ports over this process's Redis, on the cluster as node add/remove
 * left it.
 */
async function requestPortsFor(
  config: WarrenConfig,
  cluster: string,
  redis: Redis,
  queue: OperationsQueue,
  prefix: string,
): Promise<RequestPorts> {
  const membership = await new MembershipStore(redis, prefix).read(cluster);
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const audit = new AuditLog(redis, prefix);
  return {
    plan: (operation, clusterName, node) =>
      Promise.resolve(planOperation(config, operation, clusterName, node, { membership })),
    checkGates: (request) => checkSafetyGates(config, request, { membership, logger }),
    enqueue: (request, options) => enqueueOperation(queue, redis, request, options),
    runningOperation: (clusterName) => runningOperationFor(queue, clusterName),
    appendAudit: async (entry) => {
      await audit.append(entry);
    },
    now: () => Date.now(),
  };
}

/** Runs `work` with a Redis connection and the operations queue, closing both after. */
async function withQueue<T>(
  program: Command,
  work: (redis: Redis, queue: OperationsQueue, prefix: string) => Promise<T>,
): Promise<T> {
  const prefix = program.opts<GlobalOptions>().prefix;
  const redis = redisFromEnv();
  const queue = openOperationsQueue(redis, prefix);
  try {
    return await work(redis, queue, prefix);
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/**
 * The operation's words through the grammar `/rabbit` uses (src/commands): the same names are
 * accepted and refused the same way, whichever front end they were typed in.
 */
function parsedCommand(words: string[]): RabbitCommand | UsageError {
  const parsed = parseCommand(words.join(' '));
  return parsed.ok ? parsed.command : parsed.error;
}

function refuseUsage(error: UsageError): number {
  // The usage lines are /rabbit's (they say how Slack allows a command): the terminal's own are in --help.
  err(`${error.code}: ${error.message} (see warren --help)`);
  return EXIT.usage;
}

function busyLine(cluster: string, jobId: string): string {
  return `cluster ${cluster} is busy: job ${jobId} is running on it. Follow it, or wait for it to end.`;
}

async function createCluster(
  program: Command,
  clusterName: string,
  options: { allowWipe?: boolean; follow: boolean; dryRun?: boolean },
): Promise<number> {
  const command = parsedCommand(['cluster', 'create', clusterName, ...(options.dryRun ? ['--dry-run'] : [])]);
  if ('code' in command) return refuseUsage(command);
  const config = await configFrom(program);
  resolveCluster(config, clusterName);
  return withQueue(program, async (redis, queue, prefix) => {
    const ports = await requestPortsFor(config, clusterName, redis, queue, prefix);
    if (options.dryRun) {
      out(renderPlan(clusterName, await planClusterCreate(ports, clusterName)));
      return EXIT.ok;
    }
    const started = Date.now();
    const result = await requestClusterCreate(ports, {
      cluster: clusterName,
      allowWipe: options.allowWipe ?? false,
      origin: { kind: 'cli', user: cliUser() },
      requestedAt: new Date().toISOString(),
    });
    if (result.kind === 'busy') {
      err(busyLine(clusterName, result.jobId));
      return EXIT.busy;
    }
    return reportQueued(prefix, result.jobId, options.follow, started);
  });
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

/** The exit code for an error: bad config or names are usage (2), anything else a failure (1). */
function exitCodeOf(error: WarrenError): number {
  return error.code.startsWith('config.') || error.code === 'cluster.unknown' || error.code === 'node.unknown'
    ? EXIT.usage
    : EXIT.failed;
}

/** Why a request the terminal ran without --yes needs approval, where it is not that it destroys data. */
const WHY_APPROVED: Partial<Record<DestructiveOperation, string>> = {
  'feature-flags.enable': 'cannot be undone',
  'cluster.restart': 'takes every node down in turn',
};

/**
 * A destructive operation from the terminal, decided by the request layer. --dry-run: the plan
 * and the gates' verdict (exit 0). Neither --dry-run nor --yes: the same, and that nothing ran
 * (exit 2). --yes: refused by the gates (exit 1), busy (exit 3), else audited as requested with
 * chat approval bypassed, queued with a cli-yes authorization, and followed.
 */
async function destructive(
  program: Command,
  operation: DestructiveOperation,
  clusterName: string,
  node: string | undefined,
  options: { yes?: boolean; follow: boolean; dryRun?: boolean },
): Promise<number> {
  const command = parsedCommand([
    ...operation.split('.'),
    clusterName,
    ...(node === undefined ? [] : [node]),
    ...(options.dryRun ? ['--dry-run'] : []),
  ]);
  if ('code' in command) return refuseUsage(command);
  const config = await configFrom(program);
  resolveCluster(config, clusterName);
  const what = describeRequest(operation, clusterName, node);
  const runNow = options.yes === true && options.dryRun !== true;
  return withQueue(program, async (redis, queue, prefix) => {
    const ports = await requestPortsFor(config, clusterName, redis, queue, prefix);
    const started = Date.now();
    const result = await requestDestructive(
      ports,
      { operation, cluster: clusterName, ...(node ? { node } : {}), requester: { via: 'cli', user: cliUser() } },
      { kind: runNow ? 'run-now' : 'dry-run' },
    );
    switch (result.kind) {
      case 'plan':
        out(renderPlan(clusterName, result.plan, what));
        out('');
        out(renderGates(result.report));
        if (result.report.migration) out(`\n${renderMigration(result.report)}`);
        if (options.dryRun) return EXIT.ok;
        out('');
        out(
          `${what} ${WHY_APPROVED[operation] ?? 'destroys data'} and was not run. ` +
            `Ask for it in Slack (/rabbit ${what}) to get a second person's approval,`,
        );
        out('or add --yes to run it now: --yes bypasses chat approval and is recorded in the audit log as such.');
        return EXIT.usage;
      case 'unchecked':
        err(describeError(result.error.toJSON()));
        return exitCodeOf(result.error);
      case 'refused':
        out(renderGates(result.report));
        err(`${what} refused by the safety gates (see above); nothing was run.`);
        return EXIT.failed;
      case 'busy':
        err(busyLine(clusterName, result.jobId));
        return EXIT.busy;
      case 'queued':
        // What the job acts on (for a delete: exactly the queues it may delete) is shown before it runs.
        if (result.report?.migration) out(`${renderGates(result.report)}\n\n${renderMigration(result.report)}\n`);
        return reportQueued(prefix, result.jobId, options.follow, started);
      case 'needs-approval':
        // Only Slack asks for approvals; the CLI never passes that mode.
        return EXIT.failed;
    }
  });
}

async function showAudit(
  program: Command,
  cluster: string | undefined,
  options: { limit: string; json?: boolean },
): Promise<number> {
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    err('--limit must be a whole number from 1 to 10000');
    return EXIT.usage;
  }
  const redis = redisFromEnv();
  try {
    const entries = await new AuditLog(redis, program.opts<GlobalOptions>().prefix).latest({
      ...(cluster ? { cluster } : {}),
      limit,
    });
    if (options.json) outJson(entries);
    else out(renderAudit(entries));
    return EXIT.ok;
  } finally {
    redis.disconnect();
  }
}

async function showStatus(
  program: Command,
  clusterName: string | undefined,
  options: { json?: boolean },
): Promise<number> {
  const command = parsedCommand(['status', ...(clusterName === undefined ? [] : [clusterName])]);
  if ('code' in command) return refuseUsage(command);
  const config = await configFrom(program);
  if (clusterName === undefined) return showStatusSummary(program, config, options);
  const membership = await membershipOf(program, clusterName);
  const health = await readClusterStatus(config, clusterName, {
    logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
    membership,
    // Held up (a node gone silent holds cluster_status ~60 s): say on stderr what is known meanwhile,
    // sooner than the bot does (5 s, not 8): the process's own start already took a second or more.
    earlyAfterMs: 5000,
    onEarly: (early) =>
      err(`${renderHealth(early)}\n(still reading; the full status follows, within ${STATUS_DEADLINE_MS / 1000} s)`),
  });
  if (options.json) outJson(health);
  else out(renderHealth(health));
  return health.headline === 'healthy' ? EXIT.ok : EXIT.failed;
}

/** `upgrade-check <cluster> [--to <version>]`: the read-only report; exit 0 when ready, 1 when not, 2 for bad usage. */
async function showUpgradeCheck(
  program: Command,
  clusterName: string,
  options: { to?: string; json?: boolean },
): Promise<number> {
  const command = parsedCommand([
    'upgrade-check',
    clusterName,
    ...(options.to === undefined ? [] : ['--to', options.to]),
  ]);
  if ('code' in command) return refuseUsage(command);
  if (command.name !== 'upgrade-check') return EXIT.usage;
  const config = await configFrom(program);
  const membership = await membershipOf(program, clusterName);
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const result = await requestUpgradeCheck(
    {
      readUpgradeReadiness: (cluster, target) =>
        readUpgradeReadiness(config, cluster, { logger, membership, ...(target === undefined ? {} : { target }) }),
    },
    { cluster: command.cluster, ...(command.to === undefined ? {} : { to: command.to }) },
  );
  if (result.kind === 'unreadable') {
    err(describeError(result.error.toJSON()));
    return exitCodeOf(result.error);
  }
  if (options.json) outJson(result.report);
  else out(renderUpgradeReport(result.report));
  return result.report.verdict.ready ? EXIT.ok : EXIT.failed;
}

/**
 * `status` without a cluster, as in Slack: every configured cluster read side by side, one line each; exit 0 if all
 * are healthy.
 */
async function showStatusSummary(program: Command, config: WarrenConfig, options: { json?: boolean }): Promise<number> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const rows = await Promise.all(
    config.clusters.map(async ({ name }) => {
      try {
        return {
          cluster: name,
          health: await readClusterStatus(config, name, { logger, membership: await membershipOf(program, name) }),
        };
      } catch (thrown) {
        return { cluster: name, error: toWarrenError(thrown).message };
      }
    }),
  );
  if (options.json) outJson(rows);
  else
    for (const row of rows)
      out(row.health ? renderHealth(row.health).split('\n')[0] : `cluster ${row.cluster}: UNREADABLE (${row.error})`);
  return rows.every((row) => row.health?.headline === 'healthy') ? EXIT.ok : EXIT.failed;
}

/** Runs `work` with the watch's ports over a Redis connection of its own, closing it after. */
async function withWatchPorts<T>(program: Command, work: (ports: WatchPorts) => Promise<T>): Promise<T> {
  const config = await configFrom(program);
  const prefix = program.opts<GlobalOptions>().prefix;
  const redis = redisFromEnv();
  const queue = openWatchQueue(redis, prefix);
  try {
    return await work(watchPortsOf(new WatchStore(redis, prefix), queue, config));
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** `warren watch <cluster> <channel>`: the terminal has no channel of its own, so one is named. */
async function startWatchCli(program: Command, cluster: string, channel: string | undefined): Promise<number> {
  const command = parsedCommand(['watch', cluster, ...(channel === undefined ? [] : [channel])]);
  if ('code' in command) return refuseUsage(command);
  if (command.name !== 'watch') return EXIT.usage;
  if (command.channel === undefined) {
    err('warren watch needs the channel its alerts go to: warren watch <cluster> <channel id>');
    return EXIT.usage;
  }
  const result = await withWatchPorts(program, (ports) =>
    requestWatch(ports, { cluster, channel: command.channel!, requestedBy: `cli:${cliUser()}` }),
  );
  if (result.kind === 'refused') {
    err(`not watching ${cluster}: ${result.reason}. ${result.hint}`);
    return EXIT.failed;
  }
  out(`watching ${cluster} every ${result.record.periodSeconds} s; alerts go to ${result.record.channel}`);
  return EXIT.ok;
}

async function stopWatchCli(program: Command, cluster: string): Promise<number> {
  const command = parsedCommand(['unwatch', cluster]);
  if ('code' in command) return refuseUsage(command);
  const { removed } = await withWatchPorts(program, (ports) => requestUnwatch(ports, cluster));
  out(removed ? `stopped watching ${cluster}` : `${cluster} was not watched`);
  return EXIT.ok;
}

async function showWatches(program: Command, options: { json?: boolean }): Promise<number> {
  const { watches, skipped } = await withWatchPorts(program, (ports) => listWatches(ports));
  if (options.json) outJson(watches);
  else if (watches.length === 0) out('no cluster is watched');
  else
    for (const { record, state } of watches) {
      const faults = Object.values(state?.faults ?? {});
      out(
        `${record.cluster} -> ${record.channel} every ${record.periodSeconds} s: ` +
          (state
            ? `${state.gauges.nodesRunning}/${state.gauges.nodesExpected} running at ${state.judgedAt}, ` +
              `${faults.length} open${faults.map((f) => `\n  - ${f.summary}`).join('')}`
            : 'not read yet'),
      );
    }
  if (skipped.length > 0) err(`${skipped.length} unreadable watch record(s) left out: ${skipped.join(', ')}`);
  return EXIT.ok;
}

/** Resolves on SIGTERM or SIGINT, after `close` has run. */
function untilSignalled(logger: ReturnType<typeof createLogger>, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'closing');
      close()
        .catch((error: unknown) => logger.error({ err: messageOf(error) }, 'did not close cleanly'))
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
  // Read before anything connects: a bad Redis setting fails here, once, with config.invalid.
  const redis = redisSettingsFromEnv();
  // One process per replica; signals are handled there. More replicas scale it (README).
  await runBotProcess({ config, prefix, redis, env: process.env, logger, checkSafetyGates });
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
  // The watch's ticks: a queue of their own, judged here, posted by the bot (src/slack/watch-reporter.ts).
  const prefix = program.opts<GlobalOptions>().prefix;
  addWatchGauges(metrics.registry, () => new WatchStore(connection, prefix).states());
  const watching = await startWatchWorker({
    config,
    connection,
    prefix,
    logger: logger.child({ component: 'watch' }),
    tick: watchTick,
    observer: (record) => observeCommand(metrics, record),
  });
  const stopHeartbeat = startHeartbeat(
    connection,
    program.opts<GlobalOptions>().prefix,
    `${hostname()}-${process.pid}`,
  );
  // /metrics and /healthz on WARREN_METRICS_PORT, when set (two workers on one host need two ports).
  const metricsPort = process.env.WARREN_METRICS_PORT;
  const observability = metricsPort
    ? await startObservabilityServer({
        port: Number(metricsPort),
        registry: metrics.registry,
        health: () => workerHealth(running, connection),
      })
    : undefined;
  logger.info(
    { concurrency: Number(options.concurrency), metricsPort: observability?.port, redis: describeRedis(redis) },
    'worker ready',
  );
  // SIGTERM: stop taking jobs, let running ones finish, then leave.
  await untilSignalled(logger, async () => {
    await running.close();
    await watching.close();
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

  // The operations come from the grammar's table (src/commands/operations.ts), as `/rabbit help` does;
  // this adds only what is the terminal's own: following, --yes, --json, --limit.
  const groups = new Map<string, Command>();
  const groupDescriptions: Record<string, string> = {
    cluster: 'cluster operations',
    node: 'node operations (destructive: each needs --yes here, or an approval in Slack)',
    'feature-flags': 'feature flags (enable cannot be undone: it needs --yes here, or an approval in Slack)',
  };
  for (const spec of commandsOf('cli')) {
    const [first, ...rest] = spec.words.split(' ');
    let parent = program;
    if (rest.length > 0) {
      const group =
        groups.get(first) ?? program.command(first).description(groupDescriptions[first] ?? `${first} operations`);
      groups.set(first, group);
      parent = group;
    }
    const command = parent
      .command([...(rest.length > 0 ? rest : [first]), ...spec.args.map(commanderArgument)].join(' '))
      .description(describeFor(spec, 'cli'));
    if (spec.dryRun) command.option('--dry-run', "show the commands (and the gates' verdict) and change nothing");
    for (const option of spec.options ?? []) command.option(option.flag, option.summary);
    defineCliCommand(program, command, spec.name, run);
  }

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

/** `<cluster>` stays required, `[<cluster>]` becomes commander's optional `[cluster]`. */
function commanderArgument(arg: string): string {
  return arg.startsWith('[') ? `[${arg.slice(2, -2)}]` : arg;
}

/** The terminal's own options and action of one grammar command. */
function defineCliCommand(
  program: Command,
  command: Command,
  name: CommandName,
  run: (work: () => Promise<number>) => () => Promise<void>,
): void {
  const follow = (c: Command) => c.option('--no-follow', 'print the job id and return at once');
  const yes = (c: Command) => c.option('--yes', 'run it now, bypassing chat approval (audited as such)');
  switch (name) {
    case 'cluster.create':
      follow(
        command.option('--allow-wipe', 'join nodes even if that wipes their queues or another cluster membership'),
      ).action((cluster: string, options: { allowWipe?: boolean; follow: boolean; dryRun?: boolean }) =>
        run(() => createCluster(program, cluster, options))(),
      );
      return;
    case 'cluster.teardown':
    case 'cluster.migrate-to-quorum':
    case 'cluster.delete-classic-queues':
      follow(yes(command)).action((cluster: string, options: { yes?: boolean; follow: boolean; dryRun?: boolean }) =>
        run(() => destructive(program, name, cluster, undefined, options))(),
      );
      return;
    case 'feature-flags.enable':
      follow(yes(command)).action((cluster: string, options: { yes?: boolean; follow: boolean; dryRun?: boolean }) =>
        run(() => destructive(program, 'feature-flags.enable', cluster, undefined, options))(),
      );
      return;
    case 'cluster.restart':
      follow(yes(command)).action((cluster: string, options: { yes?: boolean; follow: boolean; dryRun?: boolean }) =>
        run(() => destructive(program, name, cluster, undefined, options))(),
      );
      return;
    case 'node.reset':
    case 'node.remove':
    case 'node.add':
      follow(yes(command)).action(
        (cluster: string, node: string, options: { yes?: boolean; follow: boolean; dryRun?: boolean }) =>
          run(() => destructive(program, name, cluster, node, options))(),
      );
      return;
    case 'audit':
      command
        .option('--limit <n>', 'how many entries', '20')
        .option('--json', 'print the entries as JSON')
        .action((cluster: string | undefined, options: { limit: string; json?: boolean }) =>
          run(() => showAudit(program, cluster, options))(),
        );
      return;
    case 'status':
      command
        .option('--json', 'print the parsed status as JSON')
        .action((cluster: string | undefined, options: { json?: boolean }) =>
          run(() => showStatus(program, cluster, options))(),
        );
      return;
    case 'upgrade-check':
      command
        .option('--json', 'print the report as JSON')
        .action((cluster: string, options: { to?: string; json?: boolean }) =>
          run(() => showUpgradeCheck(program, cluster, options))(),
        );
      return;
    case 'watch':
      command.action((cluster: string, channel: string | undefined) =>
        run(() => startWatchCli(program, cluster, channel))(),
      );
      return;
    case 'unwatch':
      command.action((cluster: string) => run(() => stopWatchCli(program, cluster))());
      return;
    case 'watches':
      command
        .option('--json', 'print the watches and their states as JSON')
        .action((options: { json?: boolean }) => run(() => showWatches(program, options))());
      return;
    case 'help':
    case 'jobs':
      // Slack's only (the table keeps them out of commandsOf('cli')): commander answers --help.
      return;
  }
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
    // An internal error is a bug: the stack is what its report needs.
    if (error.code === 'internal') err(stackOf(error).stack ?? '');
    return exitCodeOf(error);
  }
  return code;
}
