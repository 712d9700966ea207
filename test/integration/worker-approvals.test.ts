/**
 * The worker does not trust a job's `authorization`: a destructive job runs only when the approval it
 * names exists in Redis, was approved for exactly this operation, cluster and node, by the approver
 * the job names, and was not used by another job. Real Redis, the real worker; the hosts refuse
 * connections (port 9 on loopback), so a job that gets past the check fails on SSH instead.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApprovalStore } from '../../src/approvals/store.js';
import { AuditLog } from '../../src/audit/store.js';
import { WarrenConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { JobEvent } from '../../src/operations/progress.js';
import type { JobRequest } from '../../src/operations/schema.js';
import { startWorker } from '../../src/queue/worker.js';
import type { RunningWorker } from '../../src/queue/worker.js';
import { removeRunData } from '../../tools/redis/remove-run-data.js';
import { operations } from '../../jobs/index.js';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExampleExample';
const REQUESTER = 'U0REQUEST';
const APPROVER = 'U0APPROV1';
const CHANNEL = 'C0OPS';

const config = WarrenConfig.parse({
  hosts: ['mq1', 'mq2', 'mq3'].map((name) => ({
    name,
    address: '127.0.0.1',
    port: 9,
    privateKeyPath: '/nonexistent/id_ed25519',
    hostKey: HOST_KEY,
  })),
  clusters: [{ name: 'rmq-lab', nodes: ['mq1', 'mq2', 'mq3'], seed: 'mq1' }],
});

const redis = connectRedis();
let prefix: string;
let queue: OperationsQueue;
let connection: ReturnType<typeof connectRedis>;
let worker: RunningWorker;
let approvals: ApprovalStore;
let logs: Record<string, unknown>[];

beforeEach(async () => {
  prefix = `test-wapprove-${randomUUID().slice(0, 8)}`;
  queue = openOperationsQueue(redis, prefix, { attempts: 2, backoffMs: 50 });
  connection = connectRedis();
  logs = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  worker = await startWorker({
    operations,
    config,
    connection,
    prefix,
    logger: createLogger({ level: 'info', destination: sink }),
  });
  approvals = new ApprovalStore(redis, prefix);
});

afterEach(async () => {
  await worker.close();
  connection.disconnect();
  await removeRunData(redis, queue, prefix);
});

/** An approval for a reset of mq3, approved by APPROVER, as a winning click leaves it. */
async function approvedReset(node = 'mq3'): Promise<string> {
  const id = randomUUID();
  const now = Date.now();
  await approvals.create({
    id,
    operation: 'node.reset',
    cluster: 'rmq-lab',
    node,
    requester: REQUESTER,
    channel: CHANNEL,
    cardTs: '1795600800.000100',
    createdAt: now,
    expiresAt: now + 15 * 60_000,
    timeoutMinutes: 15,
    card: { text: 'Approval needed', blocks: [] },
  });
  expect((await approvals.decide(id, 'approved', APPROVER, now)).outcome).toBe('won');
  return id;
}

function resetJob(approvalId: string, fields: Partial<JobRequest> = {}): JobRequest {
  return {
    operation: 'node.reset',
    cluster: 'rmq-lab',
    node: 'mq3',
    origin: { kind: 'slack', user: REQUESTER, channel: CHANNEL, cardTs: '1795600800.000100' },
    authorization: { kind: 'approval', approvalId, approvedBy: APPROVER },
    requestedAt: new Date().toISOString(),
    ...fields,
  };
}

/** Adds a job straight to the queue, as anyone with Redis write access could, and waits for its end. */
async function runStraight(request: JobRequest, jobId = randomUUID()): Promise<{ jobId: string; final: JobEvent }> {
  await queue.add(request.operation, request as never, { jobId });
  const deadline = Date.now() + 30_000;
  let last = '0';
  while (Date.now() < deadline) {
    for (const { id, event } of await readEvents(redis, prefix, jobId, last, { blockMs: 500 })) {
      last = id;
      if (isFinalEvent(event)) return { jobId, final: event as JobEvent };
    }
  }
  throw new Error(`job ${jobId} did not end`);
}

/** The job's audit entries once its `failed` entry is in (the worker appends it just after the final event). */
async function auditOf(jobId: string) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const entries = (await new AuditLog(redis, prefix).latest({ limit: 100 }))
      .map((s) => s.entry)
      .filter((e) => e.jobId === jobId);
    if (entries.some((e) => e.event === 'failed') || Date.now() > deadline) return entries;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a destructive job and its approval', () => {
  it(
    'fails a forged job naming an approver but no approval as ' +
      'approval.invalid, audited without the forged name as actor',
    async () => {
      const { jobId, final } = await runStraight(resetJob(randomUUID()));
      expect(final.error?.code).toBe('approval.invalid');
      expect(final.attempt).toBe(1);
      const audit = await auditOf(jobId);
      expect(audit.map((e) => e.event)).toEqual(['failed']);
      expect(audit[0].detail).toMatch(/^approval\.invalid: .*no such approval/);
      expect(audit[0].actor).toBe(`unverified:${APPROVER}`);
      expect(logs.some((l) => l.code === 'approval.invalid' && l.jobId === jobId)).toBe(true);
    },
  );

  it('fails a job claiming another approver than the one who approved', async () => {
    const id = await approvedReset();
    const { final } = await runStraight(
      resetJob(id, { authorization: { kind: 'approval', approvalId: id, approvedBy: 'U0APPROV2' } }),
    );
    expect(final.error?.code).toBe('approval.invalid');
  });

  it('fails a job whose node differs from the approved one', async () => {
    const id = await approvedReset('mq2');
    const { final } = await runStraight(resetJob(id));
    expect(final.error?.code).toBe('approval.invalid');
    expect(final.error?.message).toMatch(/node/);
  });

  it('fails a job naming an approval that is still pending or was denied', async () => {
    const id = randomUUID();
    const now = Date.now();
    await approvals.create({
      id,
      operation: 'node.reset',
      cluster: 'rmq-lab',
      node: 'mq3',
      requester: REQUESTER,
      channel: CHANNEL,
      cardTs: '1795600800.000100',
      createdAt: now,
      expiresAt: now + 60_000,
      timeoutMinutes: 15,
      card: { text: 'x', blocks: [] },
    });
    expect((await runStraight(resetJob(id))).final.error?.code).toBe('approval.invalid');
    await approvals.decide(id, 'denied', APPROVER, now);
    expect((await runStraight(resetJob(id))).final.error?.code).toBe('approval.invalid');
  });

  it(
    'runs the genuine job past the check (its gates then refuse the ' +
      'unreachable hosts), and refuses a second job reusing the approval',
    async () => {
      const id = await approvedReset();
      const genuine = await runStraight(resetJob(id));
      expect(genuine.final.error?.code).toBe('gate.refused');
      const audit = await auditOf(genuine.jobId);
      expect(audit.map((e) => e.event)).toEqual(['started', 'failed']);
      expect(audit[0].actor).toBe(APPROVER);

      const reused = await runStraight(resetJob(id));
      expect(reused.final.error?.code).toBe('approval.invalid');
      expect(reused.final.error?.message).toMatch(/used by job/);
    },
  );

  it('fails a --yes job that claims to come from Slack', async () => {
    const { final } = await runStraight(resetJob('x', { authorization: { kind: 'cli-yes', user: 'root' } }));
    expect(final.error?.code).toBe('approval.invalid');
  });
});
