import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { z } from 'zod';
import { formatConfigIssues } from '../config/load.js';
import { WarrenError, markRedisConnectionError } from '../errors.js';
import type { Logger } from '../log/logger.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const DEFAULT_SENTINEL_PORT = 26379;
const DEFAULT_WAIT_TIMEOUT_MS = 1000;

/** One Sentinel's address. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/**
 * Where warren's Redis is: one URL, or a Sentinel group that names the current primary. Passwords
 * come from the environment only. `waitReplicas`: how many replicas a critical write (see
 * durableWrite) waits for, at most `waitTimeoutMs` (0: no wait).
 */
export type RedisSettings =
  | { mode: 'url'; url: string; password?: string; waitReplicas: number; waitTimeoutMs: number }
  | {
      mode: 'sentinel';
      sentinels: SentinelAddress[];
      masterName: string;
      password?: string;
      sentinelPassword?: string;
      waitReplicas: number;
      waitTimeoutMs: number;
    };

const RedisUrl = z
  .string()
  .url()
  .refine((url) => /^rediss?:\/\//.test(url), 'a redis:// or rediss:// URL');

// host, host:port, [v6]:port; the port defaults to Sentinel's 26379.
const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?))(?::(\d{1,5}))?$/;

const Sentinel = z
  .string()
  .regex(ADDRESS, 'host:port of a Sentinel (IPv6 as [address]:port)')
  .transform((text): SentinelAddress => {
    const [, v6, name, port] = ADDRESS.exec(text) ?? [];
    return { host: v6 ?? name ?? '', port: port === undefined ? DEFAULT_SENTINEL_PORT : Number(port) };
  })
  .refine((address) => address.port >= 1 && address.port <= 65535, 'a port from 1 to 65535');

const Secret = z.string().min(1, 'empty; unset it instead');

const RedisEnv = z
  .object({
    REDIS_URL: RedisUrl.optional(),
    REDIS_SENTINELS: z
      .preprocess(
        (value) => (typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value),
        z.array(Sentinel).min(1, 'at least one host:port'),
      )
      .optional(),
    REDIS_SENTINEL_MASTER: z
      .string()
      .regex(
        /^[A-Za-z0-9._-]{1,64}$/,
        'the master name the Sentinels monitor (`sentinel monitor <name> …`): letters, digits, . _ -',
      )
      .optional(),
    REDIS_PASSWORD: Secret.optional(),
    REDIS_SENTINEL_PASSWORD: Secret.optional(),
    REDIS_WAIT_REPLICAS: z.coerce.number().int('a whole number of replicas').min(0).max(16).optional(),
    REDIS_WAIT_TIMEOUT_MS: z.coerce
      .number()
      .int('whole milliseconds')
      .min(1)
      .max(60_000)
      .default(DEFAULT_WAIT_TIMEOUT_MS),
  })
  .superRefine((env, ctx) => {
    const sentinel = env.REDIS_SENTINELS !== undefined;
    if (sentinel && env.REDIS_URL !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message: 'set together with REDIS_SENTINELS: use one or the other (the Sentinels name the primary)',
      });
    }
    if (sentinel && env.REDIS_SENTINEL_MASTER === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_SENTINEL_MASTER'],
        message: 'required with REDIS_SENTINELS: the master name the Sentinels monitor',
      });
    }
    if (!sentinel && env.REDIS_SENTINEL_MASTER !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_SENTINELS'],
        message: 'required with REDIS_SENTINEL_MASTER: the Sentinels as host:port,host:port',
      });
    }
    if (!sentinel && env.REDIS_SENTINEL_PASSWORD !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_SENTINEL_PASSWORD'], message: 'set without REDIS_SENTINELS' });
    }
    if (env.REDIS_URL !== undefined && env.REDIS_PASSWORD !== undefined && new URL(env.REDIS_URL).password !== '') {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_PASSWORD'],
        message: 'set while REDIS_URL carries a password too: keep it in REDIS_PASSWORD only',
      });
    }
  });

const REDIS_KEYS = [
  'REDIS_URL',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_MASTER',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_WAIT_REPLICAS',
  'REDIS_WAIT_TIMEOUT_MS',
];

/**
 * Where Redis is, from the environment, validated: a typo fails at start, not at the first job.
 * `REDIS_URL` (default redis://127.0.0.1:6379), or `REDIS_SENTINELS` (host:port,…) with
 * `REDIS_SENTINEL_MASTER`; `REDIS_PASSWORD` and `REDIS_SENTINEL_PASSWORD` for either.
 */
export function redisSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): RedisSettings {
  const set = Object.fromEntries(
    REDIS_KEYS.flatMap((k) => (env[k] === undefined || env[k] === '' ? [] : [[k, env[k]]])),
  );
  const parsed = RedisEnv.safeParse(set);
  if (!parsed.success) {
    throw new WarrenError(
      'config.invalid',
      `Redis settings in the environment are invalid:\n  ${formatConfigIssues(parsed.error.issues).join('\n  ')}`,
      {
        hint:
          'Set REDIS_URL for one Redis, or REDIS_SENTINELS=host:port,host:port ' +
          'and REDIS_SENTINEL_MASTER for Sentinel; passwords in REDIS_PASSWORD ' +
          'and REDIS_SENTINEL_PASSWORD (README, Running in production).',
      },
    );
  }
  const e = parsed.data;
  const password = e.REDIS_PASSWORD === undefined ? {} : { password: e.REDIS_PASSWORD };
  if (e.REDIS_SENTINELS !== undefined && e.REDIS_SENTINEL_MASTER !== undefined) {
    return {
      mode: 'sentinel',
      sentinels: e.REDIS_SENTINELS,
      masterName: e.REDIS_SENTINEL_MASTER,
      ...password,
      ...(e.REDIS_SENTINEL_PASSWORD === undefined ? {} : { sentinelPassword: e.REDIS_SENTINEL_PASSWORD }),
      // A Sentinel group exists to survive the primary's loss; a write only the primary had would not.
      waitReplicas: e.REDIS_WAIT_REPLICAS ?? 1,
      waitTimeoutMs: e.REDIS_WAIT_TIMEOUT_MS,
    };
  }
  return {
    mode: 'url',
    url: e.REDIS_URL ?? DEFAULT_REDIS_URL,
    ...password,
    waitReplicas: e.REDIS_WAIT_REPLICAS ?? 0,
    waitTimeoutMs: e.REDIS_WAIT_TIMEOUT_MS,
  };
}

/** Where a connection points, for a log line: never a password. */
export function describeRedis(settings: RedisSettings): string {
  if (settings.mode === 'sentinel')
    return `sentinel ${settings.masterName} via ${settings.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  const url = new URL(settings.url);
  url.password = '';
  url.username = '';
  return url.toString();
}

interface Durability {
  replicas: number;
  timeoutMs: number;
  logger?: Logger;
  /** Counts lost connections: a WAIT answered on another connection than the write's proves nothing. */
  closes: number;
  /** Until then the primary has too few replicas connected: writes do not wait (it was logged). */
  degradedUntil: number;
}

/** How long writes stop waiting once the primary is found with too few replicas, before it is asked again. */
const DEGRADED_RECHECK_MS = 5000;

/** Replicas connected to the primary this connection talks to (ROLE: ['master', offset, [[ip, port, offset], …]]). */
async function connectedReplicas(redis: Redis): Promise<number> {
  const role = (await redis.call('ROLE')) as [string, number, unknown[]?];
  return role[0] === 'master' && Array.isArray(role[2]) ? role[2].length : 0;
}

const durability = new WeakMap<Redis, Durability>();

/**
 * A connection for BullMQ and for our own streams. BullMQ workers need
 * `maxRetriesPerRequest: null` so blocking commands wait out a Redis restart or a failover instead
 * of failing. Under Sentinel the client asks the Sentinels for the primary, follows their
 * `+switch-master` (failoverDetector), and a write refused with READONLY (sent to a primary that
 * has just been demoted) reconnects and is sent again to the new one.
 */
export function connectRedis(
  target: RedisSettings | string = redisSettingsFromEnv(),
  options: { logger?: Logger } = {},
): Redis {
  const settings: RedisSettings =
    typeof target === 'string'
      ? { mode: 'url', url: target, waitReplicas: 0, waitTimeoutMs: DEFAULT_WAIT_TIMEOUT_MS }
      : target;
  const common: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: false,
    // 2: reconnect and send the command again. READONLY means it was not run, so resending is safe.
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
    ...(settings.password === undefined ? {} : { password: settings.password }),
  };
  const redis =
    settings.mode === 'sentinel'
      ? new Redis({
          ...common,
          sentinels: settings.sentinels,
          name: settings.masterName,
          role: 'master',
          failoverDetector: true,
          ...(settings.sentinelPassword === undefined ? {} : { sentinelPassword: settings.sentinelPassword }),
        })
      : new Redis(settings.url, common);
  // What the connection emits (refused, reset, timed out) may come back as a command's or BullMQ's
  // rejection: marked, it is redis.unreachable there, not an SSH connection lost.
  redis.on('error', (error: Error) => {
    markRedisConnectionError(error);
    // A listener of ours silences ioredis's own default, which printed why it cannot connect (a
    // wrong password, no Sentinel): where nobody else listens, say it as ioredis did.
    if (redis.listenerCount('error') === 1)
      console.error('[ioredis] Unhandled error event:', error.stack ?? error.message);
  });
  if (settings.waitReplicas > 0) {
    const entry: Durability = {
      replicas: settings.waitReplicas,
      timeoutMs: settings.waitTimeoutMs,
      closes: 0,
      degradedUntil: 0,
      ...(options.logger ? { logger: options.logger } : {}),
    };
    redis.on('close', () => {
      entry.closes += 1;
    });
    durability.set(redis, entry);
  }
  return redis;
}

/**
 * Runs a critical write (an audit entry, an approval decision, a progress event), then, on a
 * connection configured to (Sentinel: one replica by default), waits with `WAIT` until that many
 * replicas have it, at most the configured timeout. Replication is asynchronous, and in a failover
 * the old primary takes writes until Sentinel demotes it, then discards them: without this, a
 * write acknowledged around a failover can be missing on the replica Sentinel promotes. When the
 * replicas do not confirm in time the write stands (the primary has it) and a warning says so:
 * refusing writes while a replica is away is Redis's own `min-replicas-to-write`, the operator's
 * choice. Returns the write's result.
 */
export async function durableWrite<T>(redis: Redis, what: string, write: () => Promise<T>): Promise<T> {
  const policy = durability.get(redis);
  if (!policy || Date.now() < policy.degradedUntil) return write();
  const before = policy.closes;
  const result = await write();
  const acknowledged = Number(await redis.wait(policy.replicas, policy.timeoutMs));
  // A reconnection between the write and the WAIT's answer means the WAIT may have been answered by
  // another primary, which says nothing about the write.
  const reconnected = policy.closes !== before;
  const confirmed = reconnected ? 0 : acknowledged;
  if (confirmed >= policy.replicas) return result;
  const unconfirmed = () =>
    policy.logger?.warn(
      { what, replicas: confirmed, wanted: policy.replicas, timeoutMs: policy.timeoutMs, reconnected },
      'critical write not confirmed by the replicas in time: the primary took it, a failover now could lose it',
    );
  // The write is in doubt whenever its connection dropped, whatever the replicas say now.
  if (reconnected) unconfirmed();
  const connected = await connectedReplicas(redis).catch(() => policy.replicas);
  if (connected < policy.replicas) {
    // After a failover that took the only replica's place, every write would wait the full timeout
    // for a replica that is not there: stop waiting, say so once, and look again in a few seconds.
    policy.degradedUntil = Date.now() + DEGRADED_RECHECK_MS;
    policy.logger?.warn(
      { what, replicasConnected: connected, wanted: policy.replicas, recheckMs: DEGRADED_RECHECK_MS },
      'the Redis primary has fewer replicas than critical writes wait for: ' +
        'writes go on without waiting, and a failover now would lose them',
    );
  } else if (!reconnected) {
    unconfirmed();
  }
  return result;
}
