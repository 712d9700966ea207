import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { openOperationsQueue } from '../queue/queue.js';
import { connectRedis } from '../queue/redis.js';
import type { RedisSettings } from '../queue/redis.js';
import { redisDownLogEveryFromEnv, watchRedisConnection } from '../queue/redis-watch.js';
import { startBot } from './bot.js';
import type { BotOptions, RunningBot } from './bot.js';

/** What `start()` gives back in each bot process: enough to serve metrics and to stop. */
export interface BotProcess {
  /** Stops taking requests and finishes what was acked (RunningBot.close, then Redis). */
  close(): Promise<void>;
  /** The process's own registry; with several processes `/metrics` answers the sum of all of them. */
  metrics: Registry;
  mode: 'http' | 'socket';
  port?: number;
}

/**
 * One bot process as `runBotProcesses` starts it: its own Redis connection and queue (never shared
 * across processes), the bot on them, and a close that stops the bot before letting go of Redis.
 */
export async function startBotProcess(options: Omit<BotOptions, 'redis' | 'queue'> & { prefix: string; redis?: RedisSettings }): Promise<BotProcess & { bot: RunningBot }> {
  const { prefix, redis: where, ...botOptions } = options;
  const redis = connectRedis(where, { logger: options.logger });
  // Before anything waits on Redis: a bot started without it says so, and keeps retrying.
  const unwatch = watchRedisConnection(redis, botOptions.logger, { repeatMs: redisDownLogEveryFromEnv(botOptions.env) });
  const queue = openOperationsQueue(redis, prefix);
  const bot = await startBot({ ...botOptions, redis, queue });
  return {
    bot,
    mode: bot.mode,
    ...(bot.port === undefined ? {} : { port: bot.port }),
    metrics: bot.metrics.registry,
    close: async () => {
      await bot.close();
      await queue.close();
      unwatch();
      await redis.quit();
    },
  };
}

export interface BotProcessesOptions {
  /** How many processes share the port (WARREN_BOT_PROCESSES); 1 runs the bot in this process. */
  processes: number;
  /** Starts the whole bot; runs in every bot process, never in the primary. */
  start: () => Promise<BotProcess>;
  logger: Logger;
  /** First wait before a dead process is replaced; doubles while replacements die before they are ready (cap 30 s). */
  restartDelayMs?: number;
  /** How long a process may take to close on SIGTERM before it is killed (default 30 s). */
  stopTimeoutMs?: number;
  /** How long the primary waits for each process's metrics (default 2 s). */
  metricsTimeoutMs?: number;
  /** Told once every process listens (the primary's view: the port and the pids). */
  onReady?: (info: { port?: number; pids: number[] }) => void;
}

// Messages between the primary and its bot processes, namespaced so other IPC users can share the channel.
type ToPrimary =
  | { type: 'warren:bot-ready'; mode: 'http' | 'socket'; port?: number }
  | { type: 'warren:metrics-ask'; id: number }
  | { type: 'warren:metrics-part'; id: number; metrics?: MetricObjectWithValues<MetricValue<string>>[]; error?: string };
type ToWorker =
  | { type: 'warren:bot-stop' }
  | { type: 'warren:metrics-collect'; id: number }
  | { type: 'warren:metrics-answer'; id: number; text?: string; error?: string };

const MAX_RESTART_DELAY_MS = 30_000;

/** Ours when it is an object whose type is `warren:…`; anything else on the channel is someone else's. */
function isMessage<T extends { type: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' && (message as { type: string }).type.startsWith('warren:');
}

/**
 * Runs the Slack bot as `processes` processes sharing one HTTP port, the way a Slack app scales
 * out: a burst of slash commands is acked by several event loops instead of queueing behind one.
 * The primary (node:cluster; round-robin accept on Linux) only supervises: it forks the bot
 * processes, replaces one that dies, stops them all on SIGTERM/SIGINT and sums their metrics for
 * `/metrics`. Each bot process runs `start()` — the full bot, safe several times over because its
 * state lives in Redis (per-job reporter leases, reply claims, approvals decided by one Lua
 * script). With `processes: 1` the bot runs in this process, as before. Resolves once everything
 * has stopped.
 */
export async function runBotProcesses(options: BotProcessesOptions): Promise<void> {
  if (cluster.isWorker) return runBotProcess(options);
  if (options.processes <= 1) return runSingle(options);
  return runPrimary(options);
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

async function runSingle(options: BotProcessesOptions): Promise<void> {
  const bot = await options.start();
  options.onReady?.({ ...(bot.port === undefined ? {} : { port: bot.port }), pids: [process.pid] });
  const signal = await stopSignal();
  options.logger.info({ signal }, 'closing');
  await bot.close();
}

function send(message: ToPrimary): void {
  process.send?.(message);
}

/** One bot process: start, answer the primary's metrics requests, stop on its word or on a signal. */
async function runBotProcess(options: BotProcessesOptions): Promise<void> {
  const logger = options.logger;
  const asks = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let nextAsk = 0;
  // Filled once start() resolves; the message handler below runs before that.
  const current: { bot?: BotProcess } = {};
  let resolveStop: (reason: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    resolveStop = resolve;
  });
  // Listen before starting: the primary may ask for metrics while this process is still starting.
  process.on('message', (raw: unknown) => {
    if (!isMessage<ToWorker>(raw)) return;
    const message = raw;
    if (message.type === 'warren:bot-stop') resolveStop('primary');
    if (message.type === 'warren:metrics-collect') {
      const registry = current.bot?.metrics;
      if (!registry) return send({ type: 'warren:metrics-part', id: message.id, metrics: [] });
      registry.getMetricsAsJSON().then(
        (metrics) => send({ type: 'warren:metrics-part', id: message.id, metrics }),
        (error: unknown) => send({ type: 'warren:metrics-part', id: message.id, error: (error as Error).message }),
      );
    }
    if (message.type === 'warren:metrics-answer') {
      const ask = asks.get(message.id);
      asks.delete(message.id);
      if (message.text !== undefined) ask?.resolve(message.text);
      else ask?.reject(new Error(message.error ?? 'no metrics'));
    }
  });
  void stopSignal().then((signal) => resolveStop(signal));

  const bot = await options.start();
  current.bot = bot;
  if (bot.mode === 'socket') {
    // botProcessesFromEnv refuses this first; this catches a caller that skipped it.
    await bot.close();
    throw new Error('Socket Mode runs in one process (one WebSocket); set WARREN_BOT_PROCESSES=1 or use the HTTP receiver');
  }
  const own = bot.metrics;
  // The receiver serves `/metrics` from this registry, and any process may get the scrape: ask the
  // primary for the sum of all processes instead of answering with this one's share (a counter
  // that jumps between processes' values from scrape to scrape would look like resets).
  // getMetricsAsJSON, which the primary collects, is untouched, so this never asks itself.
  own.metrics = () =>
    new Promise<string>((resolve, reject) => {
      const id = nextAsk++;
      asks.set(id, { resolve, reject });
      send({ type: 'warren:metrics-ask', id });
    });
  send({ type: 'warren:bot-ready', mode: bot.mode, ...(bot.port === undefined ? {} : { port: bot.port }) });
  const reason = await stopped;
  logger.info({ reason }, 'closing bot process');
  await bot.close();
  for (const ask of asks.values()) ask.reject(new Error('bot process closing'));
  // The IPC channel would keep this process alive; the primary counts a clean exit as a stop, not a death.
  process.disconnect?.();
}

interface Tracked {
  worker: Worker;
  ready: boolean;
}

/** The primary: forks, supervises, aggregates metrics, stops everything on a signal. */
async function runPrimary(options: BotProcessesOptions): Promise<void> {
  const logger = options.logger.child({ component: 'bot-processes' });
  const baseDelay = options.restartDelayMs ?? 1000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  const tracked = new Map<number, Tracked>();
  let stopping = false;
  let delay = baseDelay;
  let port: number | undefined;
  let nextCollect = 0;
  const collects = new Map<number, { parts: MetricObjectWithValues<MetricValue<string>>[][]; waiting: Set<number>; done: (error?: Error) => void }>();

  let failStart: (error: Error) => void = () => undefined;
  let allReady: () => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    allReady = resolve;
    failStart = reject;
  });
  let initial = true;

  const fork = (): void => {
    const worker = cluster.fork();
    tracked.set(worker.id, { worker, ready: false });
    worker.on('message', (message: unknown) => {
      if (isMessage<ToPrimary>(message)) onMessage(worker, message);
    });
    worker.on('exit', (code, signal) => onExit(worker, code, signal));
  };

  const onMessage = (worker: Worker, message: ToPrimary): void => {
    const entry = tracked.get(worker.id);
    if (!entry) return;
    if (message.type === 'warren:bot-ready') {
      entry.ready = true;
      delay = baseDelay;
      port = message.port ?? port;
      logger.info({ pid: worker.process.pid, port: message.port }, 'bot process ready');
      if (initial && [...tracked.values()].filter((t) => t.ready).length === options.processes) {
        initial = false;
        allReady();
      }
    }
    if (message.type === 'warren:metrics-ask') {
      aggregateMetrics().then(
        (text) => worker.isConnected() && worker.send({ type: 'warren:metrics-answer', id: message.id, text } satisfies ToWorker),
        (error: unknown) => worker.isConnected() && worker.send({ type: 'warren:metrics-answer', id: message.id, error: (error as Error).message } satisfies ToWorker),
      );
    }
    if (message.type === 'warren:metrics-part') {
      const collect = collects.get(message.id);
      if (!collect) return;
      if (message.error !== undefined) return collect.done(new Error(`bot process ${worker.process.pid}: ${message.error}`));
      collect.parts.push(message.metrics ?? []);
      collect.waiting.delete(worker.id);
      if (collect.waiting.size === 0) collect.done();
    }
  };

  const onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const entry = tracked.get(worker.id);
    tracked.delete(worker.id);
    // A process that is gone can no longer answer a collect in progress.
    for (const collect of collects.values()) {
      if (collect.waiting.delete(worker.id) && collect.waiting.size === 0) collect.done();
    }
    if (stopping) return;
    if (initial) {
      // A process that cannot start (bad settings, port taken) will not start on a retry either.
      failStart(new Error(`bot process ${worker.process.pid} exited before it was ready (code ${code}, signal ${signal}); its log above says why`));
      return;
    }
    if (code === 0 && signal === null) {
      // A process closed cleanly on its own (someone sent it SIGTERM): a stop, not a crash.
      logger.warn({ pid: worker.process.pid, left: tracked.size }, 'bot process stopped on request; not replaced');
      return;
    }
    if (!entry?.ready) delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: delay }, 'bot process died; starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, delay).unref();
  };

  /** Every ready process's metrics, summed by prom-client's cluster aggregation (gauges by their own rule). */
  const aggregateMetrics = async (): Promise<string> => {
    const id = nextCollect++;
    const targets = [...tracked.values()].filter((t) => t.ready && t.worker.isConnected());
    const parts: MetricObjectWithValues<MetricValue<string>>[][] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`bot processes did not send their metrics within ${options.metricsTimeoutMs ?? 2000} ms`)), options.metricsTimeoutMs ?? 2000);
      const done = (error?: Error): void => {
        clearTimeout(timer);
        collects.delete(id);
        if (error) reject(error);
        else resolve();
      };
      collects.set(id, { parts, waiting: new Set(targets.map((t) => t.worker.id)), done });
      if (targets.length === 0) return done();
      for (const t of targets) t.worker.send({ type: 'warren:metrics-collect', id } satisfies ToWorker);
    });
    return AggregatorRegistry.aggregate(parts).metrics();
  };

  const stopAll = async (): Promise<void> => {
    stopping = true;
    const exits = [...tracked.values()].map(
      ({ worker }) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          const kill = setTimeout(() => {
            logger.error({ pid: worker.process.pid, stopTimeoutMs }, 'bot process did not close in time; killing it');
            worker.process.kill('SIGKILL');
          }, stopTimeoutMs);
          worker.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          if (worker.isConnected()) worker.send({ type: 'warren:bot-stop' } satisfies ToWorker);
          else worker.process.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
  };

  const signalled = stopSignal();
  logger.info({ processes: options.processes }, 'starting bot processes');
  for (let i = 0; i < options.processes; i += 1) fork();
  const first = await Promise.race([started.then(() => 'ready' as const, (error: unknown) => error as Error), signalled]);
  if (first instanceof Error) {
    await stopAll();
    throw first;
  }
  if (first === 'ready') {
    const pids = [...tracked.values()].map((t) => t.worker.process.pid ?? 0);
    logger.info({ port, pids }, 'bot processes ready');
    options.onReady?.({ ...(port === undefined ? {} : { port }), pids });
  }
  const signal = first === 'ready' ? await signalled : first;
  logger.info({ signal, processes: tracked.size }, 'closing bot processes');
  await stopAll();
}
