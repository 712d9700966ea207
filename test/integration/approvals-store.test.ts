/** The approval store on real Redis: one decision per approval, however many clicks race for it. */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { NewApproval } from '../../src/approvals/schema.js';
import { ApprovalStore } from '../../src/approvals/store.js';
import type { AuditEntry } from '../../src/audit/schema.js';
import { AuditLog } from '../../src/audit/store.js';
import { connectRedis } from '../../src/queue/redis.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const MINUTE = 60_000;

describe('ApprovalStore on real Redis', () => {
  const redis = connectRedis();
  const prefixes: string[] = [];

  const freshStore = (): { store: ApprovalStore; prefix: string } => {
    const prefix = `test-approvals-${randomUUID().slice(0, 8)}`;
    prefixes.push(prefix);
    return { store: new ApprovalStore(redis, prefix), prefix };
  };

  const newApproval = (fields: Partial<NewApproval> = {}): NewApproval => ({
    id: randomUUID(),
    operation: 'node.reset',
    cluster: 'rmq-lab',
    node: 'mq3',
    requester: 'U0REQUEST',
    channel: 'C0OPS',
    cardTs: '1795600800.000100',
    createdAt: T0,
    expiresAt: T0 + 15 * MINUTE,
    timeoutMinutes: 15,
    card: {
      text: 'Approval needed: node reset rmq-lab mq3',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'what will happen' } }],
    },
    ...fields,
  });

  afterAll(async () => {
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    redis.disconnect();
  });

  it('reads back what it saved, validated, as pending', async () => {
    const { store } = freshStore();
    const saved = newApproval();
    await store.create(saved);
    expect(await store.get(saved.id)).toEqual({ ...saved, state: 'pending' });
    expect(await store.get(randomUUID())).toBeUndefined();
  });

  it('lets exactly one of 20 parallel approvals win; the rest see it decided', async () => {
    const { store } = freshStore();
    const saved = newApproval();
    await store.create(saved);
    const approvers = Array.from({ length: 20 }, (_, i) => `U0APPR${String(i).padStart(3, '0')}`);
    const results = await Promise.all(approvers.map((user) => store.decide(saved.id, 'approved', user, T0 + MINUTE)));
    const winners = results.filter((r) => r.outcome === 'won');
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'already')).toHaveLength(19);
    const record = await store.get(saved.id);
    expect(record).toMatchObject({ state: 'approved', decidedAt: T0 + MINUTE });
    // The winner is whoever Redis ran first, and the record names exactly that one.
    expect(winners[0]).toMatchObject({ approval: { decidedBy: record?.decidedBy } });
    expect(approvers).toContain(record?.decidedBy);
  });

  it(
    'lets one decision win when approve and deny race, and a second click ' + 'by the same person changes nothing',
    async () => {
      const { store } = freshStore();
      const saved = newApproval();
      await store.create(saved);
      const [approve, deny, again] = await Promise.all([
        store.decide(saved.id, 'approved', 'U0APPR001', T0 + MINUTE),
        store.decide(saved.id, 'denied', 'U0APPR002', T0 + MINUTE),
        store.decide(saved.id, 'approved', 'U0APPR001', T0 + MINUTE),
      ]);
      expect([approve, deny, again].filter((r) => r.outcome === 'won')).toHaveLength(1);
      const record = await store.get(saved.id);
      expect(['approved', 'denied']).toContain(record?.state);
    },
  );

  it('marks an overdue approval expired instead of deciding it, once', async () => {
    const { store } = freshStore();
    const saved = newApproval();
    await store.create(saved);
    const late = await store.decide(saved.id, 'approved', 'U0APPR001', saved.expiresAt);
    expect(late).toMatchObject({ outcome: 'expired', approval: { state: 'expired', decidedAt: saved.expiresAt } });
    expect((await store.get(saved.id))?.decidedBy).toBeUndefined();
    expect(await store.decide(saved.id, 'approved', 'U0APPR002', saved.expiresAt + 1)).toMatchObject({
      outcome: 'already',
    });
    expect(await store.expire(saved.id, saved.expiresAt + 1)).toMatchObject({ outcome: 'already' });
  });

  it('lists overdue approvals by expiry, expires each only when due, and stops listing decided ones', async () => {
    const { store } = freshStore();
    const soon = newApproval({ expiresAt: T0 + 5 * MINUTE, timeoutMinutes: 5 });
    const later = newApproval({ expiresAt: T0 + 30 * MINUTE, timeoutMinutes: 30 });
    const decided = newApproval({ expiresAt: T0 + 5 * MINUTE, timeoutMinutes: 5 });
    for (const approval of [later, soon, decided]) await store.create(approval);
    await store.decide(decided.id, 'denied', 'U0APPR001', T0 + MINUTE);

    expect(await store.overdue(T0 + 4 * MINUTE)).toEqual([]);
    expect(await store.expire(soon.id, T0 + 4 * MINUTE)).toMatchObject({
      outcome: 'not_due',
      approval: { state: 'pending' },
    });
    expect(await store.overdue(T0 + 10 * MINUTE)).toEqual([soon.id]);
    const sweeps = await Promise.all([
      store.expire(soon.id, T0 + 10 * MINUTE),
      store.expire(soon.id, T0 + 10 * MINUTE),
    ]);
    expect(sweeps.map((r) => r.outcome).sort()).toEqual(['already', 'expired']);
    expect(await store.overdue(T0 + 60 * MINUTE)).toEqual([later.id]);
    expect(await store.get(decided.id)).toMatchObject({ state: 'denied', decidedBy: 'U0APPR001' });
  });

  it('records the job an approval released, and answers missing for an id it never saw', async () => {
    const { store } = freshStore();
    const saved = newApproval();
    await store.create(saved);
    await store.decide(saved.id, 'approved', 'U0APPR001', T0 + MINUTE);
    await store.setJobId(saved.id, 'job-123');
    expect(await store.get(saved.id)).toMatchObject({ state: 'approved', jobId: 'job-123' });
    expect(await store.decide(randomUUID(), 'approved', 'U0APPR001', T0)).toEqual({ outcome: 'missing' });
  });

  const audited = (event: AuditEntry['event'], actor: string, approvalId: string): AuditEntry => ({
    at: new Date(T0).toISOString(),
    event,
    operation: 'node.reset',
    cluster: 'rmq-lab',
    node: 'mq3',
    actor,
    via: 'slack',
    approvalId,
  });

  it(
    'audits the winning decision in the same step, and lists a won ' + 'approval as releasing; losers write nothing',
    async () => {
      const { store, prefix } = freshStore();
      const approved = newApproval();
      const denied = newApproval();
      await store.create(approved);
      await store.create(denied);
      const users = ['U0APPR001', 'U0APPR002', 'U0APPR003', 'U0APPR004', 'U0APPR005'];
      const results = await Promise.all(
        users.map((user) =>
          store.decide(approved.id, 'approved', user, T0 + MINUTE, audited('approved', user, approved.id)),
        ),
      );
      expect(results.filter((r) => r.outcome === 'won')).toHaveLength(1);
      await store.decide(denied.id, 'denied', 'U0APPR001', T0 + MINUTE, audited('denied', 'U0APPR001', denied.id));
      // Past its time, an approval is expired, not decided: the decision's entry is not written.
      const late = newApproval({ expiresAt: T0 + MINUTE });
      await store.create(late);
      expect(
        await store.decide(late.id, 'approved', 'U0APPR001', T0 + MINUTE, audited('approved', 'U0APPR001', late.id)),
      ).toMatchObject({ outcome: 'expired' });

      expect(await store.releasing()).toEqual([approved.id]);
      expect(await store.isReleasing(denied.id)).toBe(false);
      const entries = (await new AuditLog(redis, prefix).latest()).map(
        ({ entry }) => `${entry.event} ${entry.actor} ${entry.approvalId}`,
      );
      expect(entries).toEqual([
        `approved ${(await store.get(approved.id))?.decidedBy} ${approved.id}`,
        `denied U0APPR001 ${denied.id}`,
      ]);
    },
  );

  it('takes an approval off the releasing set once, with its audit entry, among 10 parallel callers', async () => {
    const { store, prefix } = freshStore();
    const saved = newApproval();
    await store.create(saved);
    await store.decide(saved.id, 'approved', 'U0APPR001', T0 + MINUTE);
    const finished = await Promise.all(
      Array.from({ length: 10 }, () => store.finishRelease(saved.id, audited('refused', 'U0APPR001', saved.id))),
    );
    expect(finished.filter(Boolean)).toHaveLength(1);
    expect(await store.releasing()).toEqual([]);
    expect((await new AuditLog(redis, prefix).latest()).map(({ entry }) => entry.event)).toEqual(['refused']);
  });

  it(
    'lets one releaser hold an approval at a time; only the holder unlocks ' + 'it, and a lapsed lock frees it',
    async () => {
      const { store } = freshStore();
      const id = randomUUID();
      const tokens = await Promise.all(Array.from({ length: 5 }, () => store.lockRelease(id, 60_000)));
      const held = tokens.filter((t): t is string => t !== undefined);
      expect(held).toHaveLength(1);
      await store.unlockRelease(id, randomUUID());
      expect(await store.lockRelease(id, 60_000)).toBeUndefined();
      await store.unlockRelease(id, held[0]);
      const short = await store.lockRelease(id, 50);
      expect(short).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await store.lockRelease(id, 60_000)).toBeDefined();
    },
  );

  const whyNot = (result: { ok: true } | { ok: false; reason: string }): string => (result.ok ? 'ok' : result.reason);

  it(
    'lets one job use an approval, again and again (its retries, a ' +
      'takeover), and no other job, nor another operation, cluster, node or ' +
      'approver',
    async () => {
      const { store } = freshStore();
      const saved = newApproval();
      await store.create(saved);
      const claim = {
        operation: 'node.reset' as const,
        cluster: 'rmq-lab',
        node: 'mq3',
        approvedBy: 'U0APPROV1',
        requester: 'U0REQUEST',
      };
      expect(whyNot(await store.use(saved.id, claim, 'job-1'))).toMatch(/pending/);
      await store.decide(saved.id, 'approved', 'U0APPROV1', T0 + MINUTE);
      expect(whyNot(await store.use(saved.id, { ...claim, node: 'mq2' }, 'job-1'))).toMatch(/node/);
      expect(whyNot(await store.use(saved.id, { ...claim, cluster: 'other' }, 'job-1'))).toMatch(/cluster/);
      expect(
        await store.use(saved.id, { ...claim, operation: 'cluster.teardown', node: undefined }, 'job-1'),
      ).toMatchObject({ ok: false });
      expect(whyNot(await store.use(saved.id, { ...claim, approvedBy: 'U0APPROV2' }, 'job-1'))).toMatch(/approved by/);
      expect(whyNot(await store.use(saved.id, { ...claim, requester: 'U0SOMEONE' }, 'job-1'))).toMatch(/requested by/);
      const racing = await Promise.all(['job-1', 'job-2', 'job-3'].map((job) => store.use(saved.id, claim, job)));
      expect(racing.filter((r) => r.ok)).toHaveLength(1);
      const winner = ['job-1', 'job-2', 'job-3'][racing.findIndex((r) => r.ok)];
      expect(await store.use(saved.id, claim, winner)).toEqual({ ok: true });
      expect(whyNot(await store.use(saved.id, claim, 'job-4'))).toMatch(new RegExp(`used by job ${winner}`));
      expect(whyNot(await store.use(randomUUID(), claim, 'job-1'))).toMatch(/no such approval/);
    },
  );

  it('refuses to read a record whose fields were tampered with', async () => {
    const { store, prefix } = freshStore();
    const saved = newApproval();
    await store.create(saved);
    await redis.hset(`${prefix}:approvals:${saved.id}`, 'operation', 'cluster.create');
    expect(await store.get(saved.id)).toBeUndefined();
  });
});
