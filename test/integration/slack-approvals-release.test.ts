/**
 * Releasing an approved request exactly once, whatever dies on the way: the bot is "killed" by
 * stopping after the Lua decision (run through the store as a click's winner runs it) or after the
 * queue add, then restarted; recoveries are repeated and raced against each other and a click.
 * Real Redis, real Bolt (emulator and signed driver), a real BullMQ queue; no worker runs, so the
 * released job stays queued where the test can count it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ApprovalStore } from '../../src/approvals/store.js';
import { AuditLog } from '../../src/audit/store.js';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import { readEvents } from '../../src/queue/events.js';
import { JobData } from '../../src/operations/schema.js';
import { dedupId } from '../../src/queue/queue.js';
import type { JobRequest } from '../../src/operations/schema.js';
import type { Approval } from '../../src/approvals/schema.js';
import { approvalJobId } from '../../src/requests/approval-release.js';
import type { PlanOperation } from '../../src/slack/deps.js';
import {
  allJobs,
  approvalCards,
  approvalIdOf,
  pressApprovalButton,
  waitForApprovalCard,
  auditTrail as auditTrailOf,
  winWithoutRelease,
} from '../../tools/slack-emulator/approvals.js';
import { APPROVER, CHANNEL, OPERATOR, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness, SlackHarnessOptions } from '../../tools/slack-emulator/harness.js';

const fakePlan: PlanOperation = (_config, operation, cluster, node) => [
  { host: node ?? 'mq1', step: 'rabbit:reset', command: `rabbitmqctl reset # ${operation} ${cluster}` },
];

let h: SlackHarness;
let clock: number;

async function start(options: Partial<SlackHarnessOptions> = {}): Promise<SlackHarness> {
  clock = Date.now();
  h = await startSlackHarness({ mode: 'http', planOperation: fakePlan, now: () => clock, ...options });
  return h;
}

afterEach(async () => {
  await h.close();
});

async function jobs() {
  return allJobs(h.queue);
}

function said(value: unknown): string {
  return JSON.stringify(value);
}

function approvals(): ApprovalStore {
  return new ApprovalStore(h.redis, h.prefix);
}

/** Audit entries as "event actor" lines, oldest first. */
async function auditTrail(): Promise<string[]> {
  return auditTrailOf(h.redis, h.prefix);
}

/** How often the job was announced queued: twice would set a running job's card back to "queued". */
async function queuedEvents(jobId: string): Promise<number> {
  return (await readEvents(h.redis, h.prefix, jobId)).filter(
    ({ event }) => event.type === 'job' && event.state === 'queued',
  ).length;
}

/** How many releases of the approval went all the way (each logs it once). */
function releasesLogged(approvalId: string): number {
  return h.logs.filter((line) => line.msg === 'approved operation queued' && line.approvalId === approvalId).length;
}

/** Waits until the reporter has drawn the job's card itself: from then on only job events change it. */
async function reporterDrew(jobId: string): Promise<void> {
  await expect.poll(async () => h.store.cardFingerprint(jobId), { timeout: 10_000 }).toBeDefined();
}

/** Asks for a reset of mq3 and returns its approval card, once the request is audited. */
async function requestReset() {
  await h.driver.slashCommand({ text: 'node reset rmq-lab mq3', user: OPERATOR });
  const card = await waitForApprovalCard(h.emulator, CHANNEL, approvalCards(h.emulator, CHANNEL).length);
  await expect.poll(async () => (await auditTrail()).at(-1)).toBe(`requested ${OPERATOR}`);
  return card;
}

/** The job request the release makes of an approval (to queue it "before a crash" in a test). */
function releasedRequest(approval: Approval): JobRequest {
  return {
    operation: approval.operation,
    cluster: approval.cluster,
    ...(approval.node ? { node: approval.node } : {}),
    options: { allowWipe: false },
    origin: { kind: 'slack', user: approval.requester, channel: approval.channel, cardTs: approval.cardTs },
    authorization: { kind: 'approval', approvalId: approval.id, approvedBy: APPROVER },
    requestedAt: new Date(approval.createdAt).toISOString(),
  };
}

/** The approval card turned into the job card of `jobId`: no buttons, queued, who asked and who approved. */
async function expectJobCard(ts: string, jobId: string): Promise<void> {
  await h.emulator.waitFor(() => said(h.emulator.message(CHANNEL, ts)!.blocks).includes(jobId), 'the job card');
  const card = h.emulator.message(CHANNEL, ts)!;
  expect(approvalIdOf(card)).toBeUndefined();
  expect(card.text).toContain('node.reset rmq-lab mq3: queued');
  expect(said(card.blocks)).toMatch(new RegExp(`requested by <@${OPERATOR}> · approved by <@${APPROVER}> at \\d{4}-`));
}

/** One job, the approval's, with its authorization and the card's ts, recorded on the approval and carded. */
async function expectReleased(approvalId: string, ts: string): Promise<string> {
  const jobId = approvalJobId(approvalId);
  const all = await jobs();
  expect(all.map((j) => j.id)).toEqual([jobId]);
  expect(JobData.parse(all[0].data)).toMatchObject({
    operation: 'node.reset',
    cluster: 'rmq-lab',
    node: 'mq3',
    origin: { kind: 'slack', user: OPERATOR, channel: CHANNEL, cardTs: ts },
    authorization: { kind: 'approval', approvalId, approvedBy: APPROVER },
  });
  expect(await approvals().get(approvalId)).toMatchObject({ state: 'approved', decidedBy: APPROVER, jobId });
  expect(await h.store.getCard(jobId)).toMatchObject({ ts, user: OPERATOR, node: 'mq3', approvedBy: APPROVER });
  expect(await approvals().releasing()).toEqual([]);
  expect(await queuedEvents(jobId)).toBe(1);
  return jobId;
}

describe('an approval whose bot died before releasing it', () => {
  it(
    'is released by the restarted bot: one job with the authorization and ' +
      'card ts, the job card, one approved entry; recoveries repeated change ' +
      'nothing',
    async () => {
      await start();
      const card = await requestReset();
      await winWithoutRelease(h.redis, h.prefix, card.approvalId, APPROVER, clock);
      // The state a crash right after the script leaves: approved and audited, listed, nothing queued.
      expect(await approvals().releasing()).toEqual([card.approvalId]);
      expect(await jobs()).toEqual([]);
      expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`]);

      await h.restartBot();
      // No waiting: the start itself releases what the previous run left releasing.
      const jobId = await expectReleased(card.approvalId, card.ts);
      await expectJobCard(card.ts, jobId);
      await reporterDrew(jobId);
      const updates = h.emulator.callsOf('chat.update').length;

      await h.bot.sweeper.sweep();
      await h.bot.sweeper.sweep();
      await h.restartBot();
      await h.bot.sweeper.sweep();
      await expectReleased(card.approvalId, card.ts);
      expect(releasesLogged(card.approvalId)).toBe(1);
      expect(h.emulator.callsOf('chat.update')).toHaveLength(updates);
      expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`]);
    },
  );

  it('finishes a release that died after queueing the job: the same job, announced once, carded', async () => {
    await start();
    const card = await requestReset();
    const approval = await winWithoutRelease(h.redis, h.prefix, card.approvalId, APPROVER, clock);
    const first = await enqueueOperation(h.queue, h.redis, releasedRequest(approval), {
      jobId: approvalJobId(approval.id),
    });
    expect(first).toMatchObject({ status: 'queued', jobId: approvalJobId(approval.id) });
    expect(first.status === 'queued' && first.repeated).toBeFalsy();
    expect(await h.store.getCard(approvalJobId(approval.id))).toBeUndefined();

    await h.restartBot();
    const jobId = await expectReleased(card.approvalId, card.ts);
    await expectJobCard(card.ts, jobId);
    expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`]);
  });

  it(
    'does not call its own job "busy", nor queue it again, when that job ' +
      'ended and another operation holds the cluster',
    async () => {
      await start();
      const card = await requestReset();
      const approval = await winWithoutRelease(h.redis, h.prefix, card.approvalId, APPROVER, clock);
      await enqueueOperation(h.queue, h.redis, releasedRequest(approval), { jobId: approvalJobId(approval.id) });
      // As when the job finishes: BullMQ drops the cluster's deduplication id, and a CLI create takes it.
      await h.queue.removeDeduplicationKey(dedupId('rmq-lab'));
      const other = await enqueueOperation(h.queue, h.redis, {
        operation: 'cluster.create',
        cluster: 'rmq-lab',
        origin: { kind: 'cli', user: 'alice' },
        requestedAt: new Date().toISOString(),
      });
      expect(other.status).toBe('queued');

      await h.restartBot();
      const jobId = approvalJobId(approval.id);
      expect((await jobs()).map((j) => j.id).sort()).toEqual([jobId, other.jobId].sort());
      expect(await approvals().releasing()).toEqual([]);
      expect(await queuedEvents(jobId)).toBe(1);
      await expectJobCard(card.ts, jobId);
      expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`]);
    },
  );
});

describe('racing releases', () => {
  it('three recoveries at once queue one job, release it once and audit nothing more', async () => {
    await start();
    const card = await requestReset();
    await winWithoutRelease(h.redis, h.prefix, card.approvalId, APPROVER, clock);
    const finished = await Promise.all([h.bot.sweeper.release(), h.bot.sweeper.release(), h.bot.sweeper.release()]);
    expect(finished.reduce((a, b) => a + b, 0)).toBe(1);
    await expectReleased(card.approvalId, card.ts);
    expect(releasesLogged(card.approvalId)).toBe(1);
    expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`]);
  });

  it("a click's release racing a sweeper that recovers every millisecond queues one job", async () => {
    await start({ approvalSweepMs: 1 });
    const card = await requestReset();
    await pressApprovalButton(h.driver, card, 'approve', APPROVER);
    await expect.poll(() => releasesLogged(card.approvalId), { timeout: 10_000 }).toBe(1);
    await h.bot.afterAck.idle();
    // A few more passes of the sweeper: none releases it again.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const jobId = await expectReleased(card.approvalId, card.ts);
    await expectJobCard(card.ts, jobId);
    expect(releasesLogged(card.approvalId)).toBe(1);
    expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`]);
  });
});

describe('an approval that cannot run', () => {
  it(
    'found busy with another job by the recovery: "approved but not run", ' +
      'audited refused once however often it is recovered',
    async () => {
      await start();
      const card = await requestReset();
      await winWithoutRelease(h.redis, h.prefix, card.approvalId, APPROVER, clock);
      const other = await enqueueOperation(h.queue, h.redis, {
        operation: 'cluster.create',
        cluster: 'rmq-lab',
        origin: { kind: 'cli', user: 'alice' },
        requestedAt: new Date().toISOString(),
      });
      expect(other.status).toBe('queued');

      await h.restartBot();
      const now = h.emulator.message(CHANNEL, card.ts)!;
      expect(said(now.blocks)).toContain('*but not run*: the cluster is busy');
      expect(said(now.blocks)).toContain(other.jobId);
      expect(approvalIdOf(now)).toBeUndefined();
      expect((await jobs()).map((j) => j.id)).toEqual([other.jobId]);
      expect(await approvals().releasing()).toEqual([]);
      expect(await approvals().get(card.approvalId)).toMatchObject({ state: 'approved' });
      expect((await approvals().get(card.approvalId))?.jobId).toBeUndefined();
      const [, approved, refused] = await new AuditLog(h.redis, h.prefix).latest();
      expect(approved.entry).toMatchObject({ event: 'approved', actor: APPROVER, approvalId: card.approvalId });
      expect(refused.entry).toMatchObject({
        event: 'refused',
        actor: APPROVER,
        approvalId: card.approvalId,
        detail: `approved but not run: cluster busy (job ${other.jobId})`,
      });

      const updates = h.emulator.callsOf('chat.update').length;
      await h.bot.sweeper.sweep();
      await h.restartBot();
      expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`, `refused ${APPROVER}`]);
      expect(h.emulator.callsOf('chat.update')).toHaveLength(updates);
      expect((await jobs()).map((j) => j.id)).toEqual([other.jobId]);
    },
  );

  it('whose job data is invalid: "could not be queued" on the card, audited refused once, not retried', async () => {
    await start();
    const card = await requestReset();
    await winWithoutRelease(h.redis, h.prefix, card.approvalId, APPROVER, clock);
    // A node.reset without its node: the approval still reads, the job data cannot be valid.
    await h.redis.hdel(`${h.prefix}:approvals:${card.approvalId}`, 'node');

    await h.restartBot();
    expect(said(h.emulator.message(CHANNEL, card.ts)!.blocks)).toContain(
      'it could not be queued (node.reset needs the node it acts on)',
    );
    expect(approvalIdOf(h.emulator.message(CHANNEL, card.ts)!)).toBeUndefined();
    expect(await jobs()).toEqual([]);
    expect(await approvals().releasing()).toEqual([]);
    await h.bot.sweeper.sweep();
    expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`, `refused ${APPROVER}`]);
    expect((await new AuditLog(h.redis, h.prefix).latest()).at(-1)?.entry.detail).toBe(
      'approved but not queued: node.reset needs the node it acts on',
    );
  });
});
