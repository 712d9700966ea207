import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import type { WarrenConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { WarrenMetrics } from '../../src/observability/metrics.js';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import type { EnqueueResult } from '../../src/queue/enqueue.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import type { StoredEvent } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { JobEvent } from '../../src/operations/progress.js';
import { startWorker } from '../../src/queue/worker.js';
import type { RunningWorker } from '../../src/queue/worker.js';
import type { CommandRecord } from '../../src/ssh/session.js';
import { operations } from '../../jobs/index.js';

/** Real Redis, a fresh queue prefix, a real worker whose every remote command is recorded. */
export interface Harness {
  prefix: string;
  redis: Redis;
  queue: OperationsQueue;
  worker: RunningWorker;
  commands: CommandRecord[];
  logs: string[];
  /** The worker's Prometheus registry, fed by every event and command. */
  metrics: WarrenMetrics;
  /** Enqueues a cluster.create and waits for its final event. */
  create(
    cluster: string,
    options?: { allowWipe?: boolean },
  ): Promise<{ jobId: string; final: JobEvent; events: StoredEvent[] }>;
  enqueue(cluster: string): Promise<EnqueueResult>;
  waitForEnd(jobId: string, deadlineMs?: number): Promise<{ final: JobEvent; events: StoredEvent[] }>;
  close(): Promise<void>;
}

export async function startHarness(
  config: WarrenConfig,
  options: { attempts?: number; backoffMs?: number; redisUrl?: string; lockDurationMs?: number } = {},
): Promise<Harness> {
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const redis = connectRedis(options.redisUrl);
  const queue = openOperationsQueue(redis, prefix, {
    attempts: options.attempts ?? 2,
    backoffMs: options.backoffMs ?? 200,
  });
  const commands: CommandRecord[] = [];
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const workerConnection = connectRedis(options.redisUrl);
  const metrics = createMetrics({ defaultMetrics: false });
  const worker = await startWorker({
    operations,
    config,
    connection: workerConnection,
    metrics,
    prefix,
    logger: createLogger({ level: 'debug', destination: sink }),
    observer: (record) => commands.push(record),
  });

  const enqueue = (cluster: string, allowWipe = false) =>
    enqueueOperation(queue, redis, {
      operation: 'cluster.create',
      cluster,
      options: { allowWipe },
      origin: { kind: 'cli', user: 'test' },
      requestedAt: new Date().toISOString(),
    });

  async function waitForEnd(jobId: string, deadlineMs = 240_000): Promise<{ final: JobEvent; events: StoredEvent[] }> {
    const reader = connectRedis(options.redisUrl);
    const events: StoredEvent[] = [];
    const deadline = Date.now() + deadlineMs;
    try {
      let last = '0';
      while (Date.now() < deadline) {
        for (const stored of await readEvents(reader, prefix, jobId, last, { blockMs: 2000 })) {
          events.push(stored);
          last = stored.id;
          if (isFinalEvent(stored.event)) return { final: stored.event as JobEvent, events };
        }
      }
      throw new Error(`job ${jobId} did not end within ${deadlineMs} ms`);
    } finally {
      reader.disconnect();
    }
  }

  return {
    prefix,
    redis,
    queue,
    worker,
    commands,
    logs,
    metrics,
    enqueue: (cluster) => enqueue(cluster),
    waitForEnd,
    async create(cluster, createOptions = {}) {
      const queued = await enqueue(cluster, createOptions.allowWipe ?? false);
      if (queued.status !== 'queued') throw new Error(`cluster ${cluster} busy with ${queued.jobId}`);
      return { jobId: queued.jobId, ...(await waitForEnd(queued.jobId)) };
    },
    async close() {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
      workerConnection.disconnect();
      redis.disconnect();
    },
  };
}

/** Commands that change a node, as opposed to reading it. */
export const MUTATING =
  /apt-get|shutdown|base64 -d|service rabbitmq-server start|systemctl start|stop_app|join_cluster|start_app|set_policy|update_vhost_metadata/;

/** One remote command as a worker logged it at debug level. */
export interface LoggedCommand {
  host: string;
  command: string;
  code: number | null;
}

/** A real `warren worker` process; every remote command it logs is parsed into `commands`. */
export interface WorkerProcess {
  child: ChildProcess;
  commands: LoggedCommand[];
  /** Raw stdout and stderr, for a failing test's message. */
  output: string[];
}

/**
 * Spawns `node dist/src/cli/bin.js worker` as production runs it (build first), at debug level so
 * every remote command is logged, with a short lock so a killed worker's job is taken over quickly.
 * onCommand sees each command as it is logged (to kill the process at a precise point).
 */
export function spawnWorkerProcess(
  configPath: string,
  prefix: string,
  onCommand: (record: LoggedCommand, all: LoggedCommand[]) => void = () => undefined,
): WorkerProcess {
  const child = spawn('node', ['dist/src/cli/bin.js', '--config', configPath, '--prefix', prefix, 'worker'], {
    env: { ...process.env, WARREN_LOCK_DURATION_MS: '4000', LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const commands: LoggedCommand[] = [];
  const output: string[] = [];
  let partial = '';
  const onData = (d: Buffer) => {
    const text = d.toString('utf8');
    output.push(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes('"remote command finished"')) continue;
      const { host, command, code } = JSON.parse(line) as LoggedCommand;
      const record = { host, command, code };
      commands.push(record);
      onCommand(record, commands);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return { child, commands, output };
}
