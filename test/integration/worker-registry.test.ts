/**
 * The worker runs the operations it is given (src/ never imports jobs/: the process that starts
 * the worker hands it jobs/index.ts). A job whose operation the given registry lacks fails at once
 * with job.unknown_operation, unrecoverable, and no step runs. Real Redis, the real worker; no lab.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { operations } from '../../jobs/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import type { OperationDefinition, OperationRegistry } from '../../src/operations/operation.js';
import type { DeclaredStep } from '../../src/steps/step.js';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import { readEvents } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { startWorker } from '../../src/queue/worker.js';
import { removeRunData } from '../../tools/redis/remove-run-data.js';

const redis = connectRedis();
afterAll(() => redis.disconnect());

async function finalEventOf(prefix: string, jobId: string) {
  for (let i = 0; i < 200; i += 1) {
    const final = (await readEvents(redis, prefix, jobId))
      .map((e) => e.event)
      .find((e) => e.type === 'job' && (e.state === 'completed' || e.state === 'failed'));
    if (final) return final;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${jobId} did not end`);
}

describe('the worker and the operations it is given', () => {
  it('runs an operation from the registry it was given, not from jobs/ itself', async () => {
    const prefix = `registry-${randomUUID().slice(0, 8)}`;
    const queue = openOperationsQueue(redis, prefix, { attempts: 1 });
    const ran: string[] = [];
    const recordingStep: DeclaredStep = {
      id: 'test:record',
      title: 'record',
      skippedDetail: 'n/a',
      plan: () => [],
      execute: () => {
        ran.push('test:record');
        return Promise.resolve({ detail: 'recorded' });
      },
    };
    // A registry whose cluster.create has one step that touches nothing: proves the given one is used.
    const recorded: OperationDefinition = {
      ...operations['cluster.create']!,
      steps: [recordingStep],
      alwaysRun: new Set(),
      buildResult: () => ({ recorded: true }),
    };
    const connection = connectRedis();
    const worker = await startWorker({
      operations: { 'cluster.create': recorded },
      config: await loadConfig('config/warren.example.yaml'),
      connection,
      prefix,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const queued = await enqueueOperation(queue, redis, {
        operation: 'cluster.create',
        cluster: 'prod-mq',
        origin: { kind: 'cli', user: 't' },
        requestedAt: new Date().toISOString(),
      });
      const final = await finalEventOf(prefix, queued.jobId);
      expect(final).toMatchObject({ type: 'job', state: 'completed', result: { recorded: true } });
      expect(ran).toEqual(['test:record']);
    } finally {
      await worker.close();
      connection.disconnect();
      await removeRunData(redis, queue, prefix);
    }
  });

  it('fails a job whose operation the registry lacks with job.unknown_operation, without retrying', async () => {
    const prefix = `registry-${randomUUID().slice(0, 8)}`;
    const queue = openOperationsQueue(redis, prefix, { attempts: 3 });
    const none: OperationRegistry = {};
    const connection = connectRedis();
    const worker = await startWorker({
      operations: none,
      config: await loadConfig('config/warren.example.yaml'),
      connection,
      prefix,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const queued = await enqueueOperation(queue, redis, {
        operation: 'cluster.create',
        cluster: 'prod-mq',
        origin: { kind: 'cli', user: 't' },
        requestedAt: new Date().toISOString(),
      });
      let job = await queue.getJob(queued.jobId);
      for (let i = 0; i < 200 && job?.failedReason === undefined; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
        job = await queue.getJob(queued.jobId);
      }
      expect(job?.failedReason).toMatch(/^job\.unknown_operation: this worker cannot run cluster\.create/);
      expect(job?.attemptsMade).toBe(1);
    } finally {
      await worker.close();
      connection.disconnect();
      await removeRunData(redis, queue, prefix);
    }
  });
});
