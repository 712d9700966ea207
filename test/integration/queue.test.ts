import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueueOperation, runningOperationFor } from '../../src/queue/enqueue.js';
import { readEvents } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { JobRequest } from '../../src/operations/schema.js';

const request = (cluster: string): JobRequest => ({
  operation: 'cluster.create',
  cluster,
  origin: { kind: 'cli', user: 'test' },
  requestedAt: new Date().toISOString(),
});

describe('the operations queue on real Redis', () => {
  const redis = connectRedis();
  let queue: OperationsQueue | undefined;

  afterEach(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
  });

  it('holds one operation per cluster: a second request learns the running job id', async () => {
    queue = openOperationsQueue(redis, `q-${randomUUID().slice(0, 8)}`);
    const [a, b] = await Promise.all([
      enqueueOperation(queue, redis, request('prod-mq')),
      enqueueOperation(queue, redis, request('prod-mq')),
    ]);
    const queued = [a, b].filter((r) => r.status === 'queued');
    const busy = [a, b].filter((r) => r.status === 'busy');
    expect(queued).toHaveLength(1);
    expect(busy).toHaveLength(1);
    expect(busy[0].jobId).toBe(queued[0].jobId);
    expect(await runningOperationFor(queue, 'prod-mq')).toBe(queued[0].jobId);

    // Another cluster is not held by it.
    const other = await enqueueOperation(queue, redis, request('other-mq'));
    expect(other.status).toBe('queued');
    expect(other.jobId).not.toBe(queued[0].jobId);

    // The queued event is the first on the job's stream.
    const events = await readEvents(redis, queue.opts.prefix ?? 'warren', queued[0].jobId);
    expect(events[0]?.event).toMatchObject({ type: 'job', state: 'queued', cluster: 'prod-mq' });
  });

  it("keeps a job's progress stream under the queue's prefix, so a prefix isolates a deployment", async () => {
    const prefix = `q-${randomUUID().slice(0, 8)}`;
    queue = openOperationsQueue(redis, prefix);
    const queued = await enqueueOperation(queue, redis, request('prod-mq'));
    expect(await redis.exists(`${prefix}:events:${queued.jobId}`)).toBe(1);
    expect(await redis.exists(`warren:events:${queued.jobId}`)).toBe(0);
    await redis.del(`${prefix}:events:${queued.jobId}`);
  });

  it('refuses a malformed request before it reaches Redis', async () => {
    queue = openOperationsQueue(redis, `q-${randomUUID().slice(0, 8)}`);
    await expect(enqueueOperation(queue, redis, { ...request('x'), cluster: 'bad name; rm -rf /' })).rejects.toThrow(
      /cluster/,
    );
    expect(await queue.count()).toBe(0);
  });

  it('a worker process exits 0 on SIGTERM', async () => {
    const child = spawn(
      'node',
      [
        'dist/src/cli/bin.js',
        '--config',
        'config/warren.example.yaml',
        '--prefix',
        `q-${randomUUID().slice(0, 8)}`,
        'worker',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!output.includes('worker ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(output).toContain('worker ready');
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(output).toContain('closing');
  }, 30_000);
});
