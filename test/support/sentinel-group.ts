import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisSettings } from '../../src/queue/redis.js';
import { messageOf } from '../../src/errors.js';

/**
 * A Redis Sentinel group of the test's own on loopback: a primary, a replica and three Sentinels
 * (Debian's redis-server and redis-sentinel), with passwords on Redis and on the Sentinels, each
 * process in a temp dir. Sentinel is tuned to notice a dead primary in 1 s.
 */
export interface SentinelGroup {
  masterName: string;
  redisPassword: string;
  sentinelPassword: string;
  sentinelPorts: number[];
  /** What warren reads from REDIS_SENTINELS, REDIS_SENTINEL_MASTER and the passwords. */
  settings(extra?: Partial<Pick<RedisSettings, 'waitReplicas' | 'waitTimeoutMs'>>): RedisSettings;
  /** The same, as the environment variables an operator sets. */
  env(): Record<string, string>;
  /** The port of the primary as the Sentinels name it now. */
  primaryPort(): Promise<number>;
  /** A plain connection to one Redis of the group (not through the Sentinels). */
  direct(port: number): Redis;
  /** Asks the Sentinels for a failover now (`SENTINEL FAILOVER`), as an operator does before maintenance. */
  failover(): Promise<void>;
  /** The Redis process listening on `port`. */
  process(port: number): ChildProcess;
  /** SIGKILLs the Redis on `port` and waits for its exit. */
  kill(port: number): Promise<void>;
  /** Waits until every Sentinel names a primary other than `oldPort` and that Redis says it is the primary. */
  untilFailedOver(oldPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export interface SentinelGroupOptions {
  /** Primary first, then the replica (6400-6499 in this project's tests). */
  redisPorts: [number, number];
  /** Three Sentinels (26400-26499). */
  sentinelPorts: [number, number, number];
}

const MASTER_NAME = 'warren-test';

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} within ${timeoutMs} ms${lastError ? `: ${messageOf(lastError)}` : ''}`);
}

function admin(port: number, password: string): Redis {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    password,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    retryStrategy: () => 200,
    lazyConnect: false,
  });
  redis.on('error', () => undefined);
  return redis;
}

export async function startSentinelGroup(options: SentinelGroupOptions): Promise<SentinelGroup> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-sentinel-'));
  const redisPassword = randomBytes(12).toString('hex');
  const sentinelPassword = randomBytes(12).toString('hex');
  const children = new Map<number, ChildProcess>();
  const [primary, replica] = options.redisPorts;
  const output: string[] = [];

  const launch = (port: number, command: string, conf: string) => {
    const child = spawn(command, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => output.push(`${port}: ${d.toString('utf8')}`));
    child.stderr?.on('data', (d: Buffer) => output.push(`${port}: ${d.toString('utf8')}`));
    children.set(port, child);
  };

  for (const port of options.redisPorts) {
    const home = join(dir, String(port));
    await mkdir(home);
    const conf = join(home, 'redis.conf');
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${home}`,
        `requirepass ${redisPassword}`,
        `masterauth ${redisPassword}`,
        'appendonly yes',
        'save ""',
        'maxmemory-policy noeviction',
        'logfile ""',
        ...(port === replica ? [`replicaof 127.0.0.1 ${primary}`] : []),
        '',
      ].join('\n'),
    );
    launch(port, 'redis-server', conf);
  }
  for (const port of options.sentinelPorts) {
    const home = join(dir, String(port));
    await mkdir(home);
    const conf = join(home, 'sentinel.conf');
    // Sentinel rewrites its own file (what it learns of replicas and peers), so each has its own.
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${home}`,
        'logfile ""',
        `requirepass ${sentinelPassword}`,
        `sentinel sentinel-pass ${sentinelPassword}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary} 2`,
        `sentinel auth-pass ${MASTER_NAME} ${redisPassword}`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    launch(port, 'redis-sentinel', conf);
  }

  const sentinels = options.sentinelPorts.map((port) => admin(port, sentinelPassword));
  const closeAll = async () => {
    for (const s of sentinels) s.disconnect();
    const running = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null);
    const exits = running.map((c) => new Promise<void>((r) => c.once('exit', () => r())));
    for (const child of running) child.kill('SIGKILL');
    await Promise.all(exits);
    await rm(dir, { recursive: true, force: true });
  };

  const group: SentinelGroup = {
    masterName: MASTER_NAME,
    redisPassword,
    sentinelPassword,
    sentinelPorts: [...options.sentinelPorts],
    settings: (extra = {}) => ({
      mode: 'sentinel',
      sentinels: options.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
      masterName: MASTER_NAME,
      password: redisPassword,
      sentinelPassword,
      waitReplicas: extra.waitReplicas ?? 1,
      waitTimeoutMs: extra.waitTimeoutMs ?? 1000,
    }),
    env: () => ({
      REDIS_SENTINELS: options.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','),
      REDIS_SENTINEL_MASTER: MASTER_NAME,
      REDIS_PASSWORD: redisPassword,
      REDIS_SENTINEL_PASSWORD: sentinelPassword,
    }),
    async primaryPort() {
      const [, port] = (await sentinels[0]?.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [
        string,
        string,
      ];
      return Number(port);
    },
    direct: (port) => admin(port, redisPassword),
    async failover() {
      await sentinels[0]?.call('SENTINEL', 'FAILOVER', MASTER_NAME);
    },
    process(port) {
      const child = children.get(port);
      if (!child) throw new Error(`no Redis of the group on ${port}`);
      return child;
    },
    async kill(port) {
      const child = group.process(port);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    async untilFailedOver(oldPort, timeoutMs = 30_000) {
      return until(
        `the Sentinels did not fail ${oldPort} over`,
        async () => {
          const named = await Promise.all(
            sentinels.map(async (s) =>
              Number(((await s.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as string[])[1]),
            ),
          );
          const port = named[0];
          if (port === undefined || port === oldPort || named.some((p) => p !== port)) return undefined;
          const probe = group.direct(port);
          try {
            const [role] = (await probe.call('ROLE')) as [string];
            return role === 'master' ? port : undefined;
          } finally {
            probe.disconnect();
          }
        },
        timeoutMs,
      );
    },
    stop: closeAll,
  };

  try {
    // Ready when the replica is in sync and every Sentinel knows the replica and both other Sentinels.
    const replicaProbe = group.direct(replica);
    try {
      await until(
        'the replica did not sync',
        async () => ((await replicaProbe.info('replication')).includes('master_link_status:up') ? true : undefined),
        20_000,
      );
    } finally {
      replicaProbe.disconnect();
    }
    await until(
      'the Sentinels did not find each other and the replica',
      async () => {
        for (const s of sentinels) {
          const replicas = (await s.call('SENTINEL', 'replicas', MASTER_NAME)) as string[][];
          const peers = (await s.call('SENTINEL', 'sentinels', MASTER_NAME)) as string[][];
          if (replicas.length !== 1 || peers.length !== 2) return undefined;
          if ((await s.call('SENTINEL', 'ckquorum', MASTER_NAME)) === undefined) return undefined;
        }
        return true;
      },
      30_000,
    );
  } catch (error) {
    const log = output.join('').slice(-3000);
    await closeAll();
    throw new Error(`${messageOf(error)}\n${log}`);
  }
  return group;
}
