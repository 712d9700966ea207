/**
 * A job cancelled on its worker ends as job.cancelled, once, without a retry. Real Redis, the real
 * worker and SSH pool; the hosts accept TCP and never answer, so the job is held in preflight's
 * connect when it is cancelled: nothing is started after the cancel, and the connect that times
 * out then is not retried as a network blip would be.
 */
import { operations } from '../../jobs/index.js';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WarrenConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { JobEvent, ProgressEvent } from '../../src/operations/progress.js';
import { startWorker } from '../../src/queue/worker.js';
import type { RunningWorker } from '../../src/queue/worker.js';
import { removeRunData } from '../../tools/redis/remove-run-data.js';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample';

const redis = connectRedis();
let prefix: string;
let queue: OperationsQueue;
let connection: ReturnType<typeof connectRedis>;
let worker: RunningWorker;
let silent: Server;
const sockets: Socket[] = [];
let keyDir: string;

beforeEach(async () => {
  prefix = `test-wcancel-${randomUUID().slice(0, 8)}`;
  keyDir = mkdtempSync(join(tmpdir(), 'warren-cancel-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'id_ed25519')]);
  // Accepts and never says a word: an SSH handshake waits here until the connect timeout.
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as AddressInfo).port;
  const config = WarrenConfig.parse({
    hosts: ['mq1', 'mq2', 'mq3'].map((name) => ({
      name,
      address: '127.0.0.1',
      port,
      privateKeyPath: join(keyDir, 'id_ed25519'),
      hostKey: HOST_KEY,
    })),
    clusters: [{ name: 'rmq-lab', nodes: ['mq1', 'mq2', 'mq3'], seed: 'mq1' }],
    ssh: { connectTimeoutMs: 3000, commandTimeoutMs: 10_000 },
  });
  queue = openOperationsQueue(redis, prefix, { attempts: 3, backoffMs: 50 });
  connection = connectRedis();
  worker = await startWorker({ operations, config, connection, prefix, logger: createLogger({ level: 'silent' }) });
});

afterEach(async () => {
  await worker.close();
  connection.disconnect();
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  rmSync(keyDir, { recursive: true, force: true });
  await removeRunData(redis, queue, prefix);
});

/** Every event of the job until its final one. */
async function eventsUntilEnd(jobId: string, onEvent: (event: ProgressEvent) => void): Promise<ProgressEvent[]> {
  const seen: ProgressEvent[] = [];
  const deadline = Date.now() + 30_000;
  let last = '0';
  while (Date.now() < deadline) {
    for (const { id, event } of await readEvents(redis, prefix, jobId, last, { blockMs: 200 })) {
      last = id;
      seen.push(event);
      onEvent(event);
      if (isFinalEvent(event)) return seen;
    }
  }
  throw new Error(`job ${jobId} did not end`);
}

describe('cancelling a job', () => {
  it('ends the job as job.cancelled on its first attempt, where a connect timeout alone would be retried', async () => {
    const jobId = randomUUID();
    await queue.add(
      'cluster.create',
      {
        operation: 'cluster.create',
        cluster: 'rmq-lab',
        origin: { kind: 'cli', user: 'ops' },
        requestedAt: new Date().toISOString(),
      } as never,
      { jobId },
    );
    let cancelled: boolean | undefined;

    const events = await eventsUntilEnd(jobId, (event) => {
      if (
        cancelled === undefined &&
        event.type === 'step' &&
        event.step === 'rabbit:preflight' &&
        event.state === 'running'
      )
        cancelled = worker.cancel(jobId, 'operator asked');
    });

    expect(cancelled).toBe(true);
    const final = events.at(-1) as JobEvent;
    expect(final).toMatchObject({
      type: 'job',
      state: 'failed',
      attempt: 1,
      error: { code: 'job.cancelled', retryable: false, step: 'rabbit:preflight' },
    });
    expect(final.error?.message).toMatch(/^the job was cancelled: operator asked; /);
    expect(events.filter((e) => e.type === 'job').map((e) => e.state)).toEqual(['started', 'failed']);
    expect(events.some((e) => e.type === 'step' && e.step !== 'rabbit:preflight')).toBe(false);
  });

  it('says so when this worker does not run the job', () => {
    expect(worker.cancel('no-such-job')).toBe(false);
  });
});
