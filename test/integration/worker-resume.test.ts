import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import type { StoredEvent } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { JobData } from '../../src/operations/schema.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { spawnWorkerProcess } from './harness.js';
import type { WorkerProcess } from './harness.js';

describe('a worker killed in the middle of a create', () => {
  let lab: Lab;
  let queue: OperationsQueue;
  const redis = connectRedis();
  const prefix = `resume-${randomUUID().slice(0, 8)}`;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    lab = await labUp(3);
    queue = openOperationsQueue(redis, prefix, { attempts: 3, backoffMs: 500 });
  }, 240_000);

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await queue?.obliterate({ force: true });
    await queue?.close();
    redis.disconnect();
    await lab?.down();
  }, 120_000);

  it('is finished by another worker, which skips the steps already done', async () => {
    workers.push(spawnWorkerProcess(lab.configPath, prefix));
    const queued = await enqueueOperation(queue, redis, {
      operation: 'cluster.create',
      cluster: 'lab',
      origin: { kind: 'cli', user: 'test' },
      requestedAt: new Date().toISOString(),
    });
    if (queued.status !== 'queued') throw new Error('cluster busy');

    // Follow the job; SIGKILL the worker as soon as the first join starts (mid-step, mid-command).
    const events: StoredEvent[] = [];
    let last = '0';
    let killed = false;
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      const batch = await readEvents(redis, prefix, queued.jobId, last, { blockMs: 1000 });
      for (const stored of batch) {
        events.push(stored);
        last = stored.id;
        const e = stored.event;
        if (!killed && e.type === 'step' && e.step === 'rabbit:join' && e.host === 'lab2' && e.state === 'running') {
          workers[0].child.kill('SIGKILL');
          killed = true;
          workers.push(spawnWorkerProcess(lab.configPath, prefix));
        }
      }
      if (events.some((s) => isFinalEvent(s.event))) break;
    }
    expect(killed).toBe(true);
    const final = events.find((s) => isFinalEvent(s.event))?.event;
    expect(final).toMatchObject({ type: 'job', state: 'completed' });

    // The second worker resumed from the checkpoint: the steps the first finished were not redone.
    const starts = events.flatMap((s, i) => (s.event.type === 'job' && s.event.state === 'started' ? [i] : []));
    expect(starts.length).toBeGreaterThanOrEqual(2);
    const secondStart = starts[1];
    const afterResume = events.slice(secondStart).map((s) => s.event);
    for (const step of ['rabbit:install', 'rabbit:cookie']) {
      expect(afterResume).toContainEqual(
        expect.objectContaining({ type: 'step', step, state: 'skipped', detail: 'finished by an earlier attempt' }),
      );
    }
    const job = await queue.getJob(queued.jobId);
    expect((job?.data as JobData).checkpoint.completedSteps).toEqual(
      expect.arrayContaining(['rabbit:install', 'rabbit:cookie', 'rabbit:join', 'rabbit:replication']),
    );
    // The second worker restarted no VM and wrote no cookie (it may start_app a node left stopped).
    const second = workers[1].commands;
    expect(second.length).toBeGreaterThan(0);
    expect(second.filter((c) => /shutdown|base64 -d/.test(c.command))).toEqual([]);

    for (const i of [1, 2, 3]) {
      const status = await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null');
      expect((JSON.parse(status.stdout) as { running_nodes: string[] }).running_nodes.sort()).toEqual([
        'rabbit@lab1',
        'rabbit@lab2',
        'rabbit@lab3',
      ]);
    }
  }, 300_000);
});
