import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import type { StoredEvent } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { JobData } from '../../src/queue/schema.js';
import { labUp } from '../lab/lab.js';
import type { Lab } from '../lab/lab.js';

const CLI = 'dist/src/cli/bin.js';

/** A real worker process, as production runs it; its logs are kept for the assertions. */
function spawnWorker(lab: Lab, prefix: string, logs: string[]): ChildProcess {
  const child = spawn('node', [CLI, '--config', lab.configPath, '--prefix', prefix, 'worker'], {
    env: { ...process.env, WARREN_LOCK_DURATION_MS: '4000', LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  return child;
}

describe('a worker killed in the middle of a create', () => {
  let lab: Lab;
  let queue: OperationsQueue;
  const redis = connectRedis();
  const prefix = `resume-${randomUUID().slice(0, 8)}`;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    lab = await labUp(3);
    queue = openOperationsQueue(redis, prefix, { attempts: 3, backoffMs: 500 });
  }, 240_000);

  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await queue?.obliterate({ force: true });
    await queue?.close();
    redis.disconnect();
    await lab?.down();
  }, 120_000);

  it('is finished by another worker, which skips the steps already done', async () => {
    const firstLogs: string[] = [];
    const secondLogs: string[] = [];
    workers.push(spawnWorker(lab, prefix, firstLogs));
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
      const batch = await readEvents(redis, queued.jobId, last, { blockMs: 1000 });
      for (const stored of batch) {
        events.push(stored);
        last = stored.id;
        const e = stored.event;
        if (!killed && e.type === 'step' && e.step === 'rabbit:join' && e.host === 'lab2' && e.state === 'running') {
          workers[0].kill('SIGKILL');
          killed = true;
          workers.push(spawnWorker(lab, prefix, secondLogs));
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
      expect(afterResume).toContainEqual(expect.objectContaining({ type: 'step', step, state: 'skipped', detail: 'finished by an earlier attempt' }));
    }
    const job = await queue.getJob(queued.jobId);
    expect((job?.data as JobData).checkpoint.completedSteps).toEqual(expect.arrayContaining(['rabbit:install', 'rabbit:cookie', 'rabbit:join', 'rabbit:replication']));
    // The second worker restarted no VM and wrote no cookie (it may start_app a node left stopped).
    expect(secondLogs.join('')).toMatch(/remote command finished/);
    expect(secondLogs.join('')).not.toMatch(/"command":"[^"]*(shutdown|base64 -d)/);

    for (const i of [1, 2, 3]) {
      const status = await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null');
      expect((JSON.parse(status.stdout) as { running_nodes: string[] }).running_nodes.sort()).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3']);
    }
  }, 300_000);
});
