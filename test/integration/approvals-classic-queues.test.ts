/**
 * A delete-classic-queues approval on real Redis: the queues its card showed are saved with it, read back validated,
 * and are exactly what its release queues for the job (no lab needed).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ApprovalStore } from '../../src/approvals/store.js';
import { connectRedis } from '../../src/queue/redis.js';
import { releaseApprovedRequest } from '../../src/requests/approval-release.js';
import type { JobRequest } from '../../src/operations/schema.js';
import { JobData } from '../../src/operations/schema.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');

describe('a delete-classic-queues approval on real Redis', () => {
  const redis = connectRedis();
  const prefix = `test-approvals-cq-${randomUUID().slice(0, 8)}`;
  const store = new ApprovalStore(redis, prefix);

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps the shown queues (hostile names too) and releases a job naming exactly those', async () => {
    const shown = [
      { vhost: '/', name: `-odd 'q' "$x" \`id\``, messages: 2, consumers: 0 },
      { vhost: 'tenant a', name: '<!channel>', messages: 4, consumers: 0 },
    ];
    const id = randomUUID();
    await store.create({
      id,
      operation: 'cluster.delete-classic-queues',
      cluster: 'mq43',
      requester: 'U0REQUEST',
      channel: 'C0OPS',
      cardTs: '1795600800.000100',
      createdAt: T0,
      expiresAt: T0 + 15 * 60_000,
      timeoutMinutes: 15,
      card: { text: 'Approval needed', blocks: [] },
      classicQueues: shown,
    });
    expect((await store.get(id))?.classicQueues).toEqual(shown);
    const decided = await store.decide(id, 'approved', 'U0APPROVE', T0 + 60_000);
    expect(decided.outcome).toBe('won');
    if (decided.outcome === 'missing') throw new Error('missing');

    const enqueued: JobRequest[] = [];
    await releaseApprovedRequest(
      {
        enqueue: (request) => {
          enqueued.push(request);
          return Promise.resolve({ status: 'queued', jobId: 'j1', data: JobData.parse(request) });
        },
      },
      decided.approval,
      'U0APPROVE',
    );
    expect(JobData.parse(enqueued[0]).options).toEqual({ allowWipe: false, classicQueues: shown });
  });

  it('refuses to read back a record whose queue list is not valid JSON of queues', async () => {
    const id = randomUUID();
    await store.create({
      id,
      operation: 'cluster.delete-classic-queues',
      cluster: 'mq43',
      requester: 'U0REQUEST',
      channel: 'C0OPS',
      cardTs: '1795600800.000100',
      createdAt: T0,
      expiresAt: T0 + 15 * 60_000,
      timeoutMinutes: 15,
      card: { text: 'Approval needed', blocks: [] },
      classicQueues: [],
    });
    await redis.hset(`${prefix}:approvals:${id}`, 'classicQueues', '[{"vhost":"/"}]');
    expect(await store.get(id)).toBeUndefined();
  });
});
