/**
 * Bad data in Redis and in signed requests must not wedge anything: a malformed entry in a job's
 * event stream (the CLI's follow), a job whose raw data is not JSON (the worker), a validly signed
 * body that is JSON `null` (the bot); nor must a bug be blamed on the request (the worker: `internal`).
 * Real Redis, the real worker, the real bot over HTTP.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import { publishEvent, readEvents } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { startWorker } from '../../src/queue/worker.js';
import { signSlackRequest } from '../../tools/slack-emulator/driver.js';
import { SIGNING_SECRET, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import { removeRunData } from '../../tools/redis/remove-run-data.js';
import { operations } from '../../jobs/index.js';

const CLI = 'dist/src/cli/bin.js';
const CONFIG = 'config/warren.example.yaml';
const redis = connectRedis();

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('build first: npm run -s build');
});

afterAll(() => {
  redis.disconnect();
});

describe("warren cluster create's follow", () => {
  it('skips a stream entry that is not JSON, says so on stderr, and ends with the job', async () => {
    const prefix = `bad-follow-${randomUUID().slice(0, 8)}`;
    const queue = openOperationsQueue(redis, prefix);
    try {
      const child = spawn('node', [CLI, '--config', CONFIG, '--prefix', prefix, 'cluster', 'create', 'prod-mq'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // No worker runs: the test writes the job's stream itself once the CLI has queued it.
      let jobId: string | undefined;
      for (let i = 0; i < 200 && !jobId; i += 1) {
        jobId = (await queue.getJobs(['waiting']))[0]?.id;
        if (!jobId) await new Promise((r) => setTimeout(r, 50));
      }
      if (!jobId) throw new Error(`the CLI queued nothing: ${stderr}`);
      await redis.xadd(`${prefix}:events:${jobId}`, '*', 'event', '{not json');
      const base = {
        type: 'job' as const,
        jobId,
        operation: 'cluster.create' as const,
        cluster: 'prod-mq',
        attempt: 1,
        at: new Date().toISOString(),
      };
      await publishEvent(redis, prefix, {
        ...base,
        state: 'failed',
        error: { code: 'test.ended', message: 'ended by the test', retryable: false },
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(stderr).toContain('event.malformed');
      expect(stdout).toMatch(/failed in/);
      expect(code).toBe(1);
    } finally {
      await removeRunData(redis, queue, prefix);
    }
  }, 30_000);
});

/** A log destination that keeps every JSON line the logger writes, for assertions. */
function jsonLogSink(): { logs: Record<string, unknown>[]; sink: Writable } {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logs, sink };
}

describe('a job whose raw data is not JSON', () => {
  it('fails with job.invalid, is logged, and the worker takes the next job', async () => {
    const prefix = `bad-job-${randomUUID().slice(0, 8)}`;
    const queue = openOperationsQueue(redis, prefix, { attempts: 1 });
    const { logs, sink } = jsonLogSink();
    const connection = connectRedis();
    try {
      // A job as BullMQ stores it, its data field then overwritten with something that is not JSON.
      const job = await queue.add('cluster.create', {
        operation: 'cluster.create',
        cluster: 'prod-mq',
        origin: { kind: 'cli', user: 't' },
        requestedAt: new Date().toISOString(),
      } as never);
      await redis.hset(`${prefix}:warren-operations:${job.id}`, 'data', '{"operation": cluster.create');
      const worker = await startWorker({
        operations,
        config: await loadConfig(CONFIG),
        connection,
        prefix,
        logger: createLogger({ level: 'info', destination: sink }),
        lockDurationMs: 2000,
      });
      try {
        const deadline = Date.now() + 15_000;
        let state = await queue.getJobState(job.id!);
        while (state !== 'failed' && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          state = await queue.getJobState(job.id!);
        }
        expect(state).toBe('failed');
        expect(await redis.hget(`${prefix}:warren-operations:${job.id}`, 'failedReason')).toMatch(/^job\.invalid/);
        // Listing the queue works again: the data is stored as JSON, with the unreadable text kept as evidence.
        expect((await queue.getJob(job.id!))?.data).toMatchObject({ raw: '{"operation": cluster.create' });
        expect(logs.some((l) => l.code === 'job.invalid' && l.jobId === job.id)).toBe(true);
        // The worker is not wedged: the next job runs (and fails on the example's unreachable hosts, which is fine).
        const next = await enqueueOperation(queue, redis, {
          operation: 'cluster.create',
          cluster: 'prod-mq',
          origin: { kind: 'cli', user: 't' },
          requestedAt: new Date().toISOString(),
        });
        const started = Date.now() + 15_000;
        let seen = false;
        while (!seen && Date.now() < started) {
          seen = (await readEvents(redis, prefix, next.jobId)).some(
            ({ event }) => event.type === 'job' && event.state !== 'queued',
          );
          if (!seen) await new Promise((r) => setTimeout(r, 100));
        }
        expect(seen).toBe(true);
      } finally {
        await worker.close();
      }
    } finally {
      connection.disconnect();
      await removeRunData(redis, queue, prefix);
    }
  }, 40_000);
});

describe('an error the worker did not expect', () => {
  it('fails the job as internal (not job.invalid), with the stack in the log and the event, unretried', async () => {
    const prefix = `bad-bug-${randomUUID().slice(0, 8)}`;
    const queue = openOperationsQueue(redis, prefix, { attempts: 3 });
    const { logs, sink } = jsonLogSink();
    const connection = connectRedis();
    // A cluster without nodes, which the loader refuses, stands in for a bug: resolving it throws a TypeError.
    const config = await loadConfig(CONFIG);
    const broken = {
      ...config,
      clusters: config.clusters.map((c) =>
        c.name === 'prod-mq' ? { ...c, nodes: undefined as unknown as string[] } : c,
      ),
    };
    const worker = await startWorker({
      operations,
      config: broken,
      connection,
      prefix,
      logger: createLogger({ level: 'info', destination: sink }),
      lockDurationMs: 2000,
    });
    try {
      const { jobId } = await enqueueOperation(queue, redis, {
        operation: 'cluster.create',
        cluster: 'prod-mq',
        origin: { kind: 'cli', user: 't' },
        requestedAt: new Date().toISOString(),
      });
      const deadline = Date.now() + 15_000;
      let state = await queue.getJobState(jobId);
      while (state !== 'failed' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        state = await queue.getJobState(jobId);
      }
      expect(state).toBe('failed');
      expect(await redis.hget(`${prefix}:warren-operations:${jobId}`, 'failedReason')).toMatch(
        /^internal: Cannot read properties of undefined/,
      );
      expect((await queue.getJob(jobId))?.attemptsMade).toBe(1);
      const failed = (await readEvents(redis, prefix, jobId))
        .map(({ event }) => event)
        .find((e) => e.type === 'job' && e.state === 'failed');
      expect(failed).toMatchObject({ error: { code: 'internal', retryable: false } });
      const line = logs.find((l) => l.msg === 'job attempt failed' && l.jobId === jobId);
      expect(line).toMatchObject({ code: 'internal', willRetry: false });
      expect(line?.stack).toMatch(/^TypeError: Cannot read properties of undefined[\s\S]*resolveCluster/);
    } finally {
      await worker.close();
      connection.disconnect();
      await removeRunData(redis, queue, prefix);
    }
  }, 30_000);
});

describe('a validly signed body that is not an object', () => {
  it.each(['null', '42', '"text"', '[]'])('answers 400 to JSON %s and logs it, not 500', async (body) => {
    const h = await startSlackHarness({ mode: 'http' });
    try {
      const ts = Math.floor(Date.now() / 1000);
      const response = await fetch(`http://127.0.0.1:${h.bot.port}/slack/events`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-slack-request-timestamp': String(ts),
          'x-slack-signature': signSlackRequest(SIGNING_SECRET, ts, body),
        },
        body,
      });
      expect(response.status).toBe(400);
      expect(h.logs.some((l) => l.code === 'slack.malformed_body')).toBe(true);
    } finally {
      await h.close();
    }
  });
});
