import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, auditKey } from '../../src/audit/store.js';
import type { AuditEntry } from '../../src/audit/schema.js';
import { connectRedis } from '../../src/queue/redis.js';
import { JobData } from '../../src/operations/schema.js';

const entry = (fields: Partial<AuditEntry>): AuditEntry => ({
  at: new Date().toISOString(),
  event: 'requested',
  operation: 'node.reset',
  cluster: 'prod-mq',
  node: 'mq2',
  actor: 'U0AAA',
  via: 'slack',
  ...fields,
});

describe('the audit log on real Redis', () => {
  const redis = connectRedis();
  const prefixes: string[] = [];
  const freshLog = () => {
    const prefix = `audit-${randomUUID().slice(0, 8)}`;
    prefixes.push(prefix);
    return { log: new AuditLog(redis, prefix), prefix };
  };

  afterAll(async () => {
    for (const prefix of prefixes) await redis.del(auditKey(prefix));
    redis.disconnect();
  });

  it('reads back the newest entries oldest first, in the order they were appended', async () => {
    const { log } = freshLog();
    const events = ['requested', 'approved', 'started', 'completed'] as const;
    for (const event of events) await log.append(entry({ event }));
    const all = await log.latest();
    expect(all.map((e) => e.entry.event)).toEqual(events);
    const lastTwo = await log.latest({ limit: 2 });
    expect(lastTwo.map((e) => e.entry.event)).toEqual(['started', 'completed']);
  });

  it('filters by cluster, and skips entries it cannot read instead of failing the whole read', async () => {
    const { log, prefix } = freshLog();
    await log.append(entry({ cluster: 'prod-mq', detail: 'first' }));
    await log.append(entry({ cluster: 'other-mq' }));
    await redis.xadd(auditKey(prefix), '*', 'entry', '{not json');
    await redis.xadd(auditKey(prefix), '*', 'entry', JSON.stringify({ event: 'bogus' }));
    await log.append(entry({ cluster: 'prod-mq', event: 'denied', actor: 'U0BBB' }));
    const prod = await log.latest({ cluster: 'prod-mq' });
    expect(prod.map((e) => [e.entry.event, e.entry.actor])).toEqual([
      ['requested', 'U0AAA'],
      ['denied', 'U0BBB'],
    ]);
    expect(await log.latest({ cluster: 'nobody' })).toEqual([]);
  });

  it('refuses an entry that does not match the schema, writing nothing', async () => {
    const { log, prefix } = freshLog();
    await expect(log.append(entry({ cluster: 'bad name; rm -rf /' }))).rejects.toThrow();
    expect(await redis.xlen(auditKey(prefix))).toBe(0);
  });
});

describe('a destructive job must say how it was allowed', () => {
  const base = {
    cluster: 'prod-mq',
    origin: { kind: 'cli', user: 'ops' },
    requestedAt: new Date().toISOString(),
  } as const;

  it('refuses node.reset without a node or without an authorization, and cluster.create with a node', () => {
    expect(
      JobData.safeParse({ ...base, operation: 'node.reset', authorization: { kind: 'cli-yes', user: 'ops' } }).success,
    ).toBe(false);
    expect(JobData.safeParse({ ...base, operation: 'node.reset', node: 'mq2' }).success).toBe(false);
    expect(JobData.safeParse({ ...base, operation: 'cluster.create', node: 'mq2' }).success).toBe(false);
    expect(
      JobData.safeParse({
        ...base,
        operation: 'node.reset',
        node: 'mq2',
        authorization: { kind: 'cli-yes', user: 'ops' },
      }).success,
    ).toBe(true);
    expect(
      JobData.safeParse({
        ...base,
        operation: 'cluster.teardown',
        authorization: { kind: 'approval', approvalId: randomUUID(), approvedBy: 'U0BBB' },
      }).success,
    ).toBe(true);
    expect(JobData.safeParse({ ...base, operation: 'cluster.create' }).success).toBe(true);
  });
});
