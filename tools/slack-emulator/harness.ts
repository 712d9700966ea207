import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { WarrenConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { ClusterHealth } from '../../src/rabbit/cluster-status.js';
import { startBot } from '../../src/slack/runtime/bot.js';
import type { BotOptions, RunningBot } from '../../src/slack/runtime/bot.js';
import { SlackStore } from '../../src/slack/store.js';
import { SlackDriver } from './driver.js';
import { SlackEmulator } from './emulator.js';
import { fakeGates } from './gates.js';

export const CHANNEL = 'C2147483705';
export const OTHER_CHANNEL = 'C0OTHER01';
export const OPERATOR = 'U2147483697';
export const VIEWER = 'U0VIEWER1';
export const OUTSIDER = 'U0NOBODY1';
/** Two approvers, so one can approve what the other asked for. */
export const APPROVER = 'U0APPROV1';
export const APPROVER_2 = 'U0APPROV2';
export const SIGNING_SECRET = 'emulated-signing-secret-8f14e45f';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample';

/** Four hosts, two clusters, one channel, an operator, a viewer and two approvers. */
export function testConfig(): WarrenConfig {
  return WarrenConfig.parse({
    hosts: ['mq1', 'mq2', 'mq3', 'mq4'].map((name, i) => ({
      name,
      address: `192.0.2.${11 + i}`,
      privateKeyPath: '/nonexistent/id_ed25519',
      hostKey: HOST_KEY,
    })),
    clusters: [
      { name: 'rmq-lab', nodes: ['mq1', 'mq2', 'mq3'], seed: 'mq1' },
      { name: 'spare', nodes: ['mq4'], seed: 'mq4' },
    ],
    slack: {
      channels: [CHANNEL],
      users: { [OPERATOR]: ['operator'], [VIEWER]: ['viewer'], [APPROVER]: ['approver'], [APPROVER_2]: ['approver'] },
    },
  });
}

/** A healthy three-node cluster as readClusterStatus reports it. */
export function healthyCluster(cluster = 'rmq-lab'): ClusterHealth {
  return {
    cluster,
    headline: 'healthy',
    readFrom: 'mq1',
    nodes: ['mq1', 'mq2', 'mq3'].map((host) => ({
      node: `rabbit@${host}`,
      host,
      running: true,
      rabbitmqVersion: '3.10.8',
      erlangVersion: '25.2.3',
      alarms: [],
      maintenance: 'not under maintenance',
      partitionedFrom: [],
    })),
    problems: [],
    expected: ['rabbit@mq1', 'rabbit@mq2', 'rabbit@mq3'],
  };
}

/** Fast settings: tests wait for outcomes, never for clocks. */
export const FAST_REPORTER = {
  pollMs: 20,
  cardIntervalMs: 40,
  leaseMs: 5000,
  staleCheckMs: 600_000,
  rescanMs: 600_000,
  closeTimeoutMs: 5000,
};
export const FAST_RETRY = { retries: 8, factor: 1, minTimeout: 10, maxTimeout: 20 };

export interface SlackHarness {
  prefix: string;
  redis: Redis;
  queue: OperationsQueue;
  emulator: SlackEmulator;
  driver: SlackDriver;
  store: SlackStore;
  bot: RunningBot;
  config: WarrenConfig;
  /** Every log line the bot wrote, parsed. */
  logs: Record<string, unknown>[];
  /** Stops the bot only (Redis state stays), and starts it again: a restart. */
  restartBot(): Promise<RunningBot>;
  close(): Promise<void>;
}

export interface SlackHarnessOptions {
  mode?: 'http' | 'socket';
  config?: WarrenConfig;
  readClusterStatus?: BotOptions['readClusterStatus'];
  reporter?: BotOptions['reporter'];
  /** Default: fakeGates(), every gate passed. */
  checkSafetyGates?: BotOptions['checkSafetyGates'];
  planOperation?: BotOptions['planOperation'];
  approvalSweepMs?: number;
  now?: () => number;
}

/** Real Redis under a fresh prefix, the Slack emulator, and the real bot (Bolt unmodified) in between. */
export async function startSlackHarness(options: SlackHarnessOptions = {}): Promise<SlackHarness> {
  const prefix = `test-slack-${randomUUID().slice(0, 8)}`;
  const redis = connectRedis();
  const queue = openOperationsQueue(redis, prefix);
  const emulator = await SlackEmulator.start();
  const config = options.config ?? testConfig();
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink });
  const env: NodeJS.ProcessEnv =
    options.mode === 'socket'
      ? { SLACK_BOT_TOKEN: emulator.botToken, SLACK_APP_TOKEN: emulator.appToken, SLACK_API_URL: emulator.apiUrl }
      : {
          SLACK_BOT_TOKEN: emulator.botToken,
          SLACK_SIGNING_SECRET: SIGNING_SECRET,
          SLACK_API_URL: emulator.apiUrl,
          PORT: '0',
        };
  const launch = () =>
    startBot({
      config,
      redis,
      queue,
      env,
      logger,
      readClusterStatus: options.readClusterStatus ?? ((_config, cluster) => Promise.resolve(healthyCluster(cluster))),
      retryConfig: FAST_RETRY,
      rateBudget: { perMinute: 60_000, burst: 1000 },
      reporter: options.reporter ?? FAST_REPORTER,
      checkSafetyGates: options.checkSafetyGates ?? fakeGates(),
      ...(options.planOperation ? { planOperation: options.planOperation } : {}),
      ...(options.approvalSweepMs === undefined ? {} : { approvalSweepMs: options.approvalSweepMs }),
      ...(options.now ? { now: options.now } : {}),
    });
  const driverFor = (running: RunningBot) =>
    new SlackDriver({
      emulator,
      signingSecret: SIGNING_SECRET,
      ...(running.port ? { botUrl: `http://127.0.0.1:${running.port}/slack/events` } : {}),
    });
  let bot = await launch();
  // A restarted bot listens on a new port: the driver follows it.
  let driver = driverFor(bot);
  const harness: SlackHarness = {
    prefix,
    redis,
    queue,
    emulator,
    get driver() {
      return driver;
    },
    store: new SlackStore(redis, prefix),
    get bot() {
      return bot;
    },
    config,
    logs,
    async restartBot() {
      await bot.close();
      bot = await launch();
      driver = driverFor(bot);
      return bot;
    },
    async close() {
      await bot.close();
      await queue.obliterate({ force: true });
      await queue.close();
      // Everything the run wrote is under its prefix, event streams included.
      const keys = await scanKeys(redis, `${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await emulator.close();
      redis.disconnect();
    },
  };
  return harness;
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}
