import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { SafeName } from '../config/schema.js';
import type { WarrenConfig } from '../config/schema.js';
import { WatchRecord } from '../operations/watch.js';
import type { WatchTick } from '../operations/watch.js';
import { messageOf } from '../errors.js';
import { createLogger } from '../log/logger.js';
import type { Logger } from '../log/logger.js';
import type { ClusterHealth } from '../rabbit/cluster-status.js';
import { WatchFault, WatchState } from '../status/watch-judge.js';
import type { WatchAlert } from '../status/watch-judge.js';
import { durableWrite } from './redis.js';
import { MembershipStore } from '../state/membership.js';
import { readClusterStatus } from '../status/read-cluster-status.js';
import type { CommandObserver } from '../ssh/session.js';

/** The watch's own queue: its ticks never hold a cluster's operation slot (`warren-operations`). */
export const WATCH_QUEUE_NAME = 'warren-watch';
export const watchSchedulerId = (cluster: string): string => `watch-${cluster}`;

/** One tick's payload on the watch queue (validated again in the worker). */
export const WatchJobData = z.object({ cluster: SafeName }).strict();
export type WatchJobData = z.infer<typeof WatchJobData>;

/** An alert as the stream carries it to the Slack layer: an id that posts it at most once, and where. */
export const WatchAlertEvent = z
  .object({
    id: z.string().max(800),
    cluster: SafeName,
    channel: z.string().regex(/^[CG][A-Z0-9]+$/),
    type: z.enum(['fault', 'recovery']),
    fault: WatchFault,
    /** For a recovery: the id of the fault alert, whose thread it goes in. */
    faultId: z.string().max(800).optional(),
    at: z.string(),
  })
  .strict();
export type WatchAlertEvent = z.infer<typeof WatchAlertEvent>;

const STREAM_MAX_LENGTH = 10_000;
const POSTED_TTL_SECONDS = 90 * 24 * 3600;

/** The id of the alert that opened `fault` (a recovery replies in its thread). */
export const faultAlertId = (cluster: string, fault: WatchFault): string => `${cluster}|${fault.key}|${fault.since}`;

/**
 * Watch records in Redis, every one parsed with its schema on the way out (Redis data is untyped):
 * the watched clusters, each one's last judged state, the alert stream, and which alert was posted
 * as which Slack message.
 */
export class WatchStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, 'watch', ...parts].join(':');
  }

  get streamKey(): string {
    return this.key('alerts');
  }

  async saveRecord(record: WatchRecord): Promise<void> {
    const checked = WatchRecord.parse(record);
    await durableWrite(this.redis, 'watch record', () =>
      this.redis.hset(this.key('records'), checked.cluster, JSON.stringify(checked)),
    );
  }

  async record(cluster: string): Promise<WatchRecord | undefined> {
    return parseJson(WatchRecord, await this.redis.hget(this.key('records'), cluster));
  }

  /** Every watch; a record that does not parse is left out (and named in `skipped`). */
  async records(): Promise<{ records: WatchRecord[]; skipped: string[] }> {
    const all = await this.redis.hgetall(this.key('records'));
    const records: WatchRecord[] = [];
    const skipped: string[] = [];
    for (const [cluster, raw] of Object.entries(all)) {
      const record = parseJson(WatchRecord, raw);
      if (record) records.push(record);
      else skipped.push(cluster);
    }
    return { records: records.sort((a, b) => a.cluster.localeCompare(b.cluster)), skipped };
  }

  /** Forgets a watch and its state (open faults are not recovered: nobody watches them any more). */
  async removeRecord(cluster: string): Promise<boolean> {
    const [[, removed]] = (await this.redis
      .multi()
      .hdel(this.key('records'), cluster)
      .del(this.key('state', cluster))
      .exec()) as [[Error | null, number], unknown];
    return removed === 1;
  }

  async state(cluster: string): Promise<WatchState | undefined> {
    return parseJson(WatchState, await this.redis.get(this.key('state', cluster)));
  }

  async states(): Promise<WatchState[]> {
    const { records } = await this.records();
    const states = await Promise.all(records.map((r) => this.state(r.cluster)));
    return states.filter((s): s is WatchState => s !== undefined);
  }

  /**
   * Saves a judgement: the new state and its alerts in one transaction, so a worker that dies
   * between them neither loses an alert nor (judging again from the old state) repeats one.
   * Nothing is saved for a cluster no longer watched.
   */
  async commit(record: WatchRecord, state: WatchState, alerts: readonly WatchAlert[]): Promise<WatchAlertEvent[]> {
    const events = alerts.map((alert): WatchAlertEvent => {
      const id = faultAlertId(record.cluster, alert.fault);
      return alert.type === 'fault'
        ? {
            id,
            cluster: record.cluster,
            channel: record.channel,
            type: 'fault',
            fault: alert.fault,
            at: state.judgedAt,
          }
        : {
            id: `${id}|recovered`,
            cluster: record.cluster,
            channel: record.channel,
            type: 'recovery',
            fault: alert.fault,
            faultId: id,
            at: alert.at,
          };
    });
    const multi = this.redis.multi().set(this.key('state', record.cluster), JSON.stringify(WatchState.parse(state)));
    for (const event of events)
      multi.xadd(this.streamKey, 'MAXLEN', '~', String(STREAM_MAX_LENGTH), '*', 'alert', JSON.stringify(event));
    await durableWrite(this.redis, 'watch judgement', () => multi.exec());
    return events;
  }

  /** Alerts after stream id `after` ('0' for all); entries that do not parse are skipped (with their ids). */
  async readAlerts(
    after: string,
    count = 100,
  ): Promise<{ events: { id: string; event: WatchAlertEvent }[]; position?: string; skipped: string[] }> {
    const reply = await this.redis.xread('COUNT', String(count), 'STREAMS', this.streamKey, after);
    const out: { events: { id: string; event: WatchAlertEvent }[]; position?: string; skipped: string[] } = {
      events: [],
      skipped: [],
    };
    for (const [, entries] of reply ?? []) {
      for (const [id, fields] of entries) {
        out.position = id;
        const at = fields.indexOf('alert');
        const event = at >= 0 && at % 2 === 0 ? parseJson(WatchAlertEvent, fields[at + 1]) : undefined;
        if (event) out.events.push({ id, event });
        else out.skipped.push(id);
      }
    }
    return out;
  }

  async cursor(): Promise<string> {
    return (await this.redis.get(this.key('reporter', 'cursor'))) ?? '0';
  }

  async saveCursor(id: string): Promise<void> {
    await this.redis.set(this.key('reporter', 'cursor'), id);
  }

  /** One reporter at a time across bots. */
  async acquireLease(owner: string, ms: number): Promise<boolean> {
    const key = this.key('reporter', 'lease');
    if ((await this.redis.set(key, owner, 'PX', ms, 'NX')) === 'OK') return true;
    if ((await this.redis.get(key)) !== owner) return false;
    await this.redis.pexpire(key, ms);
    return true;
  }

  /** Claims an alert before posting it: false when it was posted (or claimed) before. */
  async claimPost(alertId: string): Promise<boolean> {
    return (await this.redis.set(this.key('posted', alertId), 'claimed', 'EX', POSTED_TTL_SECONDS, 'NX')) === 'OK';
  }

  /** The Slack message ts an alert was posted as ('claimed' while being posted). */
  async postedTs(alertId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('posted', alertId))) ?? undefined;
  }

  async recordPost(alertId: string, ts: string): Promise<void> {
    await this.redis.set(this.key('posted', alertId), ts, 'EX', POSTED_TTL_SECONDS);
  }

  async releasePost(alertId: string): Promise<void> {
    await this.redis.del(this.key('posted', alertId));
  }

  /** One tick of a cluster at a time across workers (a scheduler may start the next before one ends). */
  async lockTick(cluster: string, owner: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.key('lock', cluster), owner, 'PX', ms, 'NX')) === 'OK';
  }

  async unlockTick(cluster: string, owner: string): Promise<void> {
    const key = this.key('lock', cluster);
    if ((await this.redis.get(key)) === owner) await this.redis.del(key);
  }
}

function parseJson<T>(schema: z.ZodType<T>, raw: string | null | undefined): T | undefined {
  if (raw === null || raw === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export type WatchQueue = Queue<WatchJobData, unknown, string>;

export function openWatchQueue(connection: Redis, prefix = 'warren'): WatchQueue {
  return new Queue<WatchJobData, unknown, string>(WATCH_QUEUE_NAME, {
    connection,
    prefix,
    // Ticks are many and alike: keep a few for inspection, never retry one (the next tick is the retry).
    defaultJobOptions: { attempts: 1, removeOnComplete: { count: 50 }, removeOnFail: { count: 200 } },
  });
}

/** Starts (or re-times) a cluster's repeatable tick: one scheduler per cluster, upserted (repeating it is harmless). */
export async function scheduleWatch(queue: WatchQueue, cluster: string, periodSeconds: number): Promise<void> {
  await queue.upsertJobScheduler(
    watchSchedulerId(cluster),
    { every: periodSeconds * 1000 },
    { name: 'watch', data: WatchJobData.parse({ cluster }) },
  );
}

export async function unscheduleWatch(queue: WatchQueue, cluster: string): Promise<void> {
  await queue.removeJobScheduler(watchSchedulerId(cluster));
}

export interface WatchWorkerOptions {
  config: WarrenConfig;
  connection: Redis;
  prefix?: string;
  logger?: Logger;
  /** The tick (jobs/watch.ts), given by the process that starts the worker: src/ never imports jobs/. */
  tick: WatchTick;
  /**
   * Reads a cluster's health; by default src/status/read-cluster-status.ts on the cluster as node
   * add/remove left it, bounded by watch.readTimeoutSeconds (past it: what SSH alone tells).
   */
  readHealth?: (cluster: string) => Promise<ClusterHealth>;
  /** Sees every remote command (tests, metrics). */
  observer?: CommandObserver;
  concurrency?: number;
  now?: () => number;
}

export interface RunningWatchWorker {
  worker: Worker<WatchJobData>;
  close(): Promise<void>;
}

/** The worker of the watch queue: one tick per job, one tick of a cluster at a time across workers. */
export async function startWatchWorker(options: WatchWorkerOptions): Promise<RunningWatchWorker> {
  const logger = options.logger ?? createLogger({ name: 'warren-watch' });
  const prefix = options.prefix ?? 'warren';
  const store = new WatchStore(options.connection, prefix);
  const lockMs = (options.config.watch.readTimeoutSeconds + 60) * 1000;
  const membership = new MembershipStore(options.connection, prefix);
  const deadlineMs = options.config.watch.readTimeoutSeconds * 1000;
  const readHealth =
    options.readHealth ??
    (async (cluster: string) =>
      readClusterStatus(options.config, cluster, {
        logger,
        membership: await membership.read(cluster),
        earlyAfterMs: deadlineMs,
        deadlineMs,
        ...(options.observer ? { observer: options.observer } : {}),
      }));
  const worker = new Worker<WatchJobData>(
    WATCH_QUEUE_NAME,
    async (job) => {
      const parsed = WatchJobData.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError('job.invalid: the watch job payload does not match the schema');
      const { cluster } = parsed.data;
      const owner = randomUUID();
      if (!(await store.lockTick(cluster, owner, lockMs))) return { skipped: 'another tick of this cluster runs' };
      try {
        const result = await options.tick({
          record: () => store.record(cluster),
          previous: () => store.state(cluster),
          readHealth: () => readHealth(cluster),
          commit: (record, state, alerts) => store.commit(record, state, alerts),
          now: options.now ?? Date.now,
          settings: options.config.watch,
        });
        if (result.alerts > 0) logger.info({ cluster, ...result }, 'watch: alerts raised');
        return result;
      } catch (error) {
        logger.warn({ cluster, err: messageOf(error) }, 'watch tick failed; the next one reads again');
        throw error;
      } finally {
        await store.unlockTick(cluster, owner).catch(() => undefined);
      }
    },
    { connection: options.connection, prefix, concurrency: options.concurrency ?? 4 },
  );
  worker.on('error', (error) => logger.error({ err: error.message }, 'watch worker error'));
  await worker.waitUntilReady();
  return { worker, close: () => worker.close() };
}

/** The watch requests' ports (src/requests/watch.ts) over one Redis connection and the watch queue. */
export function watchPortsOf(store: WatchStore, queue: WatchQueue, config: WarrenConfig, now = Date.now) {
  return {
    config,
    saveRecord: (record: WatchRecord) => store.saveRecord(record),
    record: (cluster: string) => store.record(cluster),
    removeRecord: (cluster: string) => store.removeRecord(cluster),
    records: () => store.records(),
    state: (cluster: string) => store.state(cluster),
    schedule: (cluster: string, periodSeconds: number) => scheduleWatch(queue, cluster, periodSeconds),
    unschedule: (cluster: string) => unscheduleWatch(queue, cluster),
    now,
  };
}
