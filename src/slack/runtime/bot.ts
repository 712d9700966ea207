import type { App, webApi } from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from 'node:http';
import { ApprovalStore } from '../../approvals/store.js';
import { AuditLog } from '../../audit/store.js';
import type { WarrenConfig } from '../../config/schema.js';
import type { CheckSafetyGates } from '../../gates/schema.js';
import type { Logger } from '../../log/logger.js';
import { createBotMetrics } from '../../observability/metrics.js';
import { startObservabilityServer } from '../../observability/server.js';
import type { ObservabilityServer } from '../../observability/server.js';
import type { BotMetrics } from '../../observability/metrics.js';
import { planOperation } from '../../plan.js';
import type { OperationsQueue } from '../../queue/queue.js';
import { MembershipStore } from '../../state/membership.js';
import { readClusterStatus } from '../../status/read-cluster-status.js';
import { readUpgradeReadiness } from '../../status/read-upgrade-readiness.js';
import { AfterAck } from '../after-ack.js';
import { createSlackApp } from './app.js';
import { batchedFirstDelivery } from './delivery-memory.js';
import { ApprovalSweeper } from '../approval-sweeper.js';
import type { BotDeps, PlanOperation, ReadClusterStatus, ReadUpgradeReadiness } from '../deps.js';
import { slackSettingsFromEnv } from './env.js';
import { botHealth } from './health.js';
import { registerListeners } from '../listeners/index.js';
import { MethodLimiter } from '../rate-limit.js';
import type { RateBudget } from '../rate-limit.js';
import { JobReporter } from '../reporter.js';
import type { ReporterOptions } from '../reporter.js';
import { SlackStore } from '../store.js';
import { WatchStore, openWatchQueue, watchPortsOf } from '../../queue/watch.js';
import { WatchReporter } from '../watch-reporter.js';
import type { WatchReporterOptions } from '../watch-reporter.js';

export interface BotOptions {
  config: WarrenConfig;
  redis: Redis;
  queue: OperationsQueue;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /**
   * Judges destructive requests before an approver is asked (src/gates/check.ts). Required, with
   * no default: a bot must never ask for approval of an operation nobody checked.
   */
  checkSafetyGates: CheckSafetyGates;
  /** How often expired approvals are closed (default 15 s); tests make it short. */
  approvalSweepMs?: number;
  /** The clock approvals are decided by; tests move it. */
  now?: () => number;
  /** Seams for tests and the demo; production uses the real ones. */
  readClusterStatus?: ReadClusterStatus;
  readUpgradeReadiness?: ReadUpgradeReadiness;
  planOperation?: PlanOperation;
  retryConfig?: webApi.RetryOptions;
  rateBudget?: RateBudget;
  reporter?: Pick<
    ReporterOptions,
    'pollMs' | 'cardIntervalMs' | 'leaseMs' | 'staleCheckMs' | 'rescanMs' | 'closeTimeoutMs'
  >;
  watchReporter?: Pick<WatchReporterOptions, 'pollMs' | 'leaseMs'>;
}

export interface RunningBot {
  close(): Promise<void>;
  /** The HTTP receiver's port (absent in Socket Mode). */
  port?: number;
  /** The HTTP receiver's server (absent in Socket Mode), e.g. to measure it. */
  server?: Server;
  mode: 'http' | 'socket';
  app: App;
  reporter: JobReporter;
  watchReporter: WatchReporter;
  afterAck: AfterAck;
  metrics: BotMetrics;
  /** Closes approvals nobody decided in time; `sweep()` runs one pass (tests). */
  sweeper: ApprovalSweeper;
}

/**
 * Starts the Slack front: the Bolt app on the receiver the environment chooses, its listeners,
 * and the reporter, which first resumes every card a previous run left unfinished. Over HTTP the
 * receiver's port also serves `GET /healthz` and `GET /metrics`; in Socket Mode (no port of its
 * own) they are served on WARREN_METRICS_PORT when it is set, opened before Slack is connected, so a
 * port in use fails the start with `listen.failed` instead of crashing the process later.
 */
export async function startBot(options: BotOptions): Promise<RunningBot> {
  const settings = slackSettingsFromEnv(options.env);
  const logger = options.logger.child({ component: 'slack' });
  const prefix = options.queue.opts.prefix ?? 'warren';
  const metrics = createBotMetrics();
  const health = () => botHealth(options.redis, prefix);
  const store = new SlackStore(options.redis, prefix);
  const app = createSlackApp({
    settings,
    logger,
    metrics,
    health,
    firstDelivery: batchedFirstDelivery((keys, ttlSeconds) => store.firstDeliveries(keys, ttlSeconds)),
    ...(options.retryConfig ? { retryConfig: options.retryConfig } : {}),
  });
  // One limiter for every poster: Slack's limits are per method, for the whole app.
  const limiter = new MethodLimiter(options.rateBudget);
  const reporter = new JobReporter({
    client: app.client,
    redis: options.redis,
    store,
    queue: options.queue,
    logger,
    limiter,
    ...options.reporter,
  });
  const watchStore = new WatchStore(options.redis, prefix);
  const watchQueue = openWatchQueue(options.redis, prefix);
  const watchReporter = new WatchReporter({
    client: app.client,
    store: watchStore,
    logger: logger.child({ component: 'watch' }),
    limiter,
    ...options.watchReporter,
  });
  const afterAck = new AfterAck(logger);
  const membership = new MembershipStore(options.redis, prefix);
  const deps: BotDeps = {
    config: options.config,
    redis: options.redis,
    queue: options.queue,
    logger,
    client: app.client,
    store,
    reporter,
    afterAck,
    metrics,
    // Status cards and dry runs describe the cluster as node add/remove left it, as the CLI does.
    readClusterStatus:
      options.readClusterStatus ??
      (async (config, cluster, readOptions) =>
        readClusterStatus(config, cluster, { ...readOptions, membership: await membership.read(cluster) })),
    readUpgradeReadiness:
      options.readUpgradeReadiness ??
      (async (config, cluster, readOptions) =>
        readUpgradeReadiness(config, cluster, { ...readOptions, membership: await membership.read(cluster) })),
    planOperation:
      options.planOperation ??
      (async (config, operation, cluster, node) =>
        planOperation(config, operation, cluster, node, { membership: await membership.read(cluster) })),
    checkSafetyGates: async (config, request, gateOptions) =>
      options.checkSafetyGates(config, request, { ...gateOptions, membership: await membership.read(request.cluster) }),
    audit: new AuditLog(options.redis, prefix),
    approvals: new ApprovalStore(options.redis, prefix),
    now: options.now ?? Date.now,
    watch: watchPortsOf(watchStore, watchQueue, options.config, options.now ?? Date.now),
  };
  const sweeper = new ApprovalSweeper(deps, logger, options.approvalSweepMs);
  registerListeners(app, deps);
  app.error((error) => {
    logger.error({ code: error.code, err: error.message }, 'slack listener error');
    return Promise.resolve();
  });
  let port: number | undefined;
  let server: Server | undefined;
  let observability: ObservabilityServer | undefined;
  if (settings.mode === 'http') {
    server = await app.start(settings.port);
    port = (server.address() as AddressInfo).port;
    afterAck.watch(server);
  } else {
    observability =
      settings.metricsPort === undefined
        ? undefined
        : await startObservabilityServer({ port: settings.metricsPort, registry: metrics.registry, health });
    await app.start().catch(async (error: unknown) => {
      await observability?.close();
      throw error;
    });
  }
  // Approvals a previous run won but did not finish releasing: queued (once) and carded before the
  // reporter adopts jobs without a card record, so their cards keep who approved and when.
  await sweeper.release();
  await reporter.start();
  watchReporter.start();
  // Approvals that ran out while no bot was running are closed on this first pass.
  sweeper.start();
  let closed = false;
  logger.info({ mode: settings.mode, port }, 'slack bot started');
  return {
    mode: settings.mode,
    ...(port === undefined ? {} : { port }),
    ...(server === undefined ? {} : { server }),
    app,
    reporter,
    watchReporter,
    afterAck,
    metrics,
    sweeper,
    close: async () => {
      if (closed) return;
      closed = true;
      // Stop taking requests, let follow-ups already acked finish (their cards get tracked), then stop reporting.
      await app.stop();
      await Promise.race([afterAck.idle(), sleep(10_000, undefined, { ref: false })]);
      await sweeper.close();
      await reporter.close();
      await watchReporter.close();
      await watchQueue.close();
      await observability?.close();
    },
  };
}
