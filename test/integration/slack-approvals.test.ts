/**
 * Destructive operations behind approval buttons, end to end through Bolt (unmodified): signed
 * slash commands and button presses from the driver, Web API calls into the emulator, approvals and
 * the audit log in real Redis, jobs on a real BullMQ queue. The gate checker and the dry run are
 * injected fakes; no worker runs, so an approved job stays queued where the test can read it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WarrenError } from '../../src/errors.js';
import { AuditLog } from '../../src/audit/store.js';
import type { GateCheck } from '../../src/gates/schema.js';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import { JobData } from '../../src/operations/schema.js';
import type { PlanOperation } from '../../src/slack/deps.js';
import {
  APPROVE_ACTION,
  allJobs,
  approvalCards,
  approvalIdOf,
  auditTrail as auditTrailOf,
  pressApprovalButton,
  waitForApprovalCard,
} from '../../tools/slack-emulator/approvals.js';
import { fakeGates } from '../../tools/slack-emulator/gates.js';
import type { FakeGates } from '../../tools/slack-emulator/gates.js';
import {
  APPROVER,
  APPROVER_2,
  CHANNEL,
  OPERATOR,
  OTHER_CHANNEL,
  VIEWER,
  startSlackHarness,
  testConfig,
} from '../../tools/slack-emulator/harness.js';
import type { SlackHarness, SlackHarnessOptions } from '../../tools/slack-emulator/harness.js';

const MINUTE = 60_000;

/** What the dry run was asked to plan, test by test. */
let planCalls: string[] = [];

/** The dry run the card shows: one recognisable command per node. */
const fakePlan: PlanOperation = (_config, operation, cluster, node) => {
  planCalls.push([operation, cluster, node].filter(Boolean).join(' '));
  return [{ host: node ?? 'mq1', step: 'rabbit:reset', command: `rabbitmqctl reset # ${operation} ${cluster}` }];
};

let h: SlackHarness;
let gates: FakeGates;
/** The bot's clock for approvals: tests move it to reach an expiry without waiting for one. */
let clock: number;

async function start(
  options: Partial<SlackHarnessOptions> & { refuse?: GateCheck[]; wipes?: string[] } = {},
): Promise<SlackHarness> {
  gates = fakeGates({
    ...(options.refuse ? { refuse: options.refuse } : {}),
    ...(options.wipes ? { wipes: options.wipes } : {}),
  });
  clock = Date.now();
  planCalls = [];
  h = await startSlackHarness({
    mode: 'http',
    checkSafetyGates: gates,
    planOperation: fakePlan,
    now: () => clock,
    ...options,
  });
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

function auditLog(): AuditLog {
  return new AuditLog(h.redis, h.prefix);
}

/** Audit entries as "event actor" lines, oldest first. */
async function auditTrail(): Promise<string[]> {
  return auditTrailOf(h.redis, h.prefix);
}

async function waitForAudit(count: number): Promise<string[]> {
  await expect.poll(async () => (await auditTrail()).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(count);
  return auditTrail();
}

/** Asks for a reset of mq3 as `user` and returns its approval card. */
async function requestReset(user = OPERATOR) {
  const reply = await h.driver.slashCommand({ text: 'node reset rmq-lab mq3', user });
  expect(reply.status).toBe(200);
  expect(said(reply.json)).toContain('Checking the safety gates of node reset rmq-lab mq3');
  const card = await waitForApprovalCard(h.emulator, CHANNEL, approvalCards(h.emulator, CHANNEL).length);
  await expect.poll(async () => (await auditTrail()).at(-1)).toBe(`requested ${user}`);
  return card;
}

/** Presses a button and waits for the private answer to the clicker (every refusal has one). */
async function pressAndHear(card: Awaited<ReturnType<typeof requestReset>>, button: 'approve' | 'deny', user: string) {
  const press = await pressApprovalButton(h.driver, card, button, user);
  expect(press.status).toBe(200);
  expect(press.body).toBe('');
  const answer = await h.emulator.waitFor(
    () => h.emulator.responsesTo(press.responseUrl)[0],
    `the answer to ${user}'s ${button}`,
  );
  await h.bot.afterAck.idle();
  return answer;
}

function buttonsOf(ts: string): string | undefined {
  return approvalIdOf(h.emulator.message(CHANNEL, ts)!);
}

describe('asking for a destructive operation', () => {
  it(
    'posts an approval card: what, which nodes, the commands, the gates, ' +
      'who asked, the expiry, Approve (danger, confirmed) and Deny',
    async () => {
      await start({ wipes: ['mq3 holds 3 queues'] });
      const card = await requestReset();
      const blocks = said(card.message.blocks);
      expect(card.message.text).toBe(`Approval needed: node reset rmq-lab mq3 (requested by ${OPERATOR})`);
      expect(blocks).toContain('comes back as a blank single node');
      expect(blocks).toContain('*Nodes:* `mq3`');
      expect(blocks).toContain('rabbitmqctl reset # node.reset rmq-lab');
      expect(blocks).toContain('2 of 3 nodes stay running');
      expect(blocks).toContain('no other operation runs on rmq-lab');
      expect(blocks).toContain('mq3 holds 3 queues');
      expect(blocks).toContain(`requested by <@${OPERATOR}>`);
      expect(blocks).toContain('(15 min)');
      const actions = (card.message.blocks as { type: string; elements?: Record<string, unknown>[] }[]).find(
        (b) => b.type === 'actions',
      );
      const [approve, deny] = actions?.elements ?? [];
      expect(approve).toMatchObject({
        action_id: 'approval_approve',
        style: 'danger',
        value: card.approvalId,
        confirm: { confirm: { type: 'plain_text', text: 'Approve and run' } },
      });
      expect(deny).toMatchObject({ action_id: 'approval_deny', value: card.approvalId });
      expect(gates.calls).toEqual([{ operation: 'node.reset', cluster: 'rmq-lab', node: 'mq3' }]);
      expect(await jobs()).toEqual([]);
    },
  );

  it('refuses privately when a gate says no: each reason and remedy, audited, no card, no buttons', async () => {
    await start({
      refuse: [
        {
          id: 'node.last_running_disk',
          ok: false,
          detail: 'rabbit@mq3 is the last running disk node',
          remedy: 'start another disk node first',
        },
      ],
    });
    const reply = await h.driver.slashCommand({ text: 'node reset rmq-lab mq3' });
    const refusal = await h.emulator.waitFor(() => h.emulator.responsesTo(reply.responseUrl)[0], 'the refusal');
    expect(refusal.body.response_type).toBe('ephemeral');
    expect(said(refusal.body)).toContain('rabbit@mq3 is the last running disk node');
    expect(said(refusal.body)).toContain('start another disk node first');
    await waitForAudit(1);
    const [entry] = await auditLog().latest();
    expect(entry.entry).toMatchObject({
      event: 'refused',
      operation: 'node.reset',
      cluster: 'rmq-lab',
      node: 'mq3',
      actor: OPERATOR,
      via: 'slack',
    });
    expect(entry.entry.detail).toContain('node.last_running_disk');
    expect(h.emulator.callsOf('chat.postMessage')).toEqual([]);
    expect(approvalCards(h.emulator, CHANNEL)).toEqual([]);
    expect(await jobs()).toEqual([]);
    expect(planCalls).toEqual([]);
  });

  it(
    "refuses privately, with the checker's hint, a host the gates cannot " + 'judge (not a member); audited, no card',
    async () => {
      await start({
        checkSafetyGates: () =>
          Promise.reject(
            new WarrenError('node.unknown', 'mq4 is not a member of rmq-lab', {
              host: 'mq4',
              hint: 'Members of rmq-lab: mq1, mq2, mq3.',
            }),
          ),
      });
      const reply = await h.driver.slashCommand({ text: 'node remove rmq-lab mq4' });
      const refusal = await h.emulator.waitFor(() => h.emulator.responsesTo(reply.responseUrl)[0], 'the refusal');
      expect(said(refusal.body)).toContain('node remove rmq-lab mq4: mq4 is not a member of rmq-lab');
      expect(said(refusal.body)).toContain('Members of rmq-lab: mq1, mq2, mq3.');
      await waitForAudit(1);
      expect((await auditLog().latest())[0].entry).toMatchObject({
        event: 'refused',
        node: 'mq4',
        actor: OPERATOR,
        detail: 'node.unknown: mq4 is not a member of rmq-lab',
      });
      expect(h.emulator.callsOf('chat.postMessage')).toEqual([]);
      expect(planCalls).toEqual([]);
    },
  );

  it('answers --dry-run privately with the commands and the gates; no card, nothing audited', async () => {
    await start();
    const reply = await h.driver.slashCommand({ text: 'cluster teardown rmq-lab --dry-run', user: VIEWER });
    const plan = await h.emulator.waitFor(() => h.emulator.responsesTo(reply.responseUrl)[0], 'the dry run');
    expect(plan.body.response_type).toBe('ephemeral');
    expect(said(plan.body)).toContain('Dry run: cluster teardown rmq-lab');
    expect(said(plan.body)).toContain('Reset every node of *rmq-lab* (`mq1`, `mq2`, `mq3`)');
    expect(said(plan.body)).toContain('rabbitmqctl reset # cluster.teardown rmq-lab');
    expect(said(plan.body)).toContain('2 of 3 nodes stay running');
    expect(h.emulator.callsOf('chat.postMessage')).toEqual([]);
    expect(await auditTrail()).toEqual([]);
  });

  it('lists the inventory hosts for an unknown host, and needs operator to ask', async () => {
    await start();
    const unknown = await h.driver.slashCommand({ text: 'node add rmq-lab mq9' });
    expect(String(unknown.json?.text)).toContain('unknown host "mq9"; inventory hosts: mq1, mq2, mq3, mq4');
    const viewer = await h.driver.slashCommand({ text: 'node reset rmq-lab mq3', user: VIEWER });
    expect(said(viewer.json)).toContain('needs the *operator* role');
    await h.bot.afterAck.idle();
    expect(gates.calls).toEqual([]);
    expect(h.emulator.callsOf('chat.postMessage')).toEqual([]);
  });

  it('refuses while the cluster is busy, with a link to the running card, audited', async () => {
    await start();
    await h.driver.slashCommand({ text: 'cluster create rmq-lab' });
    const createCard = await h.emulator.waitFor(() => h.emulator.channelMessages(CHANNEL)[0], 'the create card');
    await expect.poll(async () => (await jobs()).length).toBe(1);
    const reply = await h.driver.slashCommand({ text: 'node remove rmq-lab mq3' });
    const notice = await h.emulator.waitFor(() => h.emulator.responsesTo(reply.responseUrl)[0], 'the busy notice');
    expect(said(notice.body)).toContain('already has an operation running');
    expect(said(notice.body)).toContain(`p${createCard.ts.replace('.', '')}`);
    expect((await waitForAudit(1))[0]).toBe(`refused ${OPERATOR}`);
    expect(approvalCards(h.emulator, CHANNEL)).toEqual([]);
    expect(gates.calls).toEqual([]);
  });
});

describe('deciding', () => {
  it(
    "enqueues exactly one job on another approver's approval, carrying the " +
      'authorization and the card ts; the card becomes the job card',
    async () => {
      await start();
      const card = await requestReset();
      const press = await pressApprovalButton(h.driver, card, 'approve', APPROVER);
      expect(press.status).toBe(200);
      await expect.poll(async () => (await jobs()).length).toBe(1);
      await h.bot.afterAck.idle();
      const [job] = await jobs();
      const data = JobData.parse(job.data);
      expect(data).toMatchObject({
        operation: 'node.reset',
        cluster: 'rmq-lab',
        node: 'mq3',
        options: { allowWipe: false },
        origin: { kind: 'slack', user: OPERATOR, channel: CHANNEL, cardTs: card.ts },
        authorization: { kind: 'approval', approvalId: card.approvalId, approvedBy: APPROVER },
      });
      expect(await h.store.getCard(job.id!)).toMatchObject({
        ts: card.ts,
        user: OPERATOR,
        node: 'mq3',
        approvedBy: APPROVER,
      });
      // The reporter took the card over: no buttons, the job id, and who asked and who approved.
      await h.emulator.waitFor(
        () => said(h.emulator.message(CHANNEL, card.ts)!.blocks).includes(job.id!),
        'the job card',
      );
      const now = h.emulator.message(CHANNEL, card.ts)!;
      expect(buttonsOf(card.ts)).toBeUndefined();
      expect(now.text).toContain('node.reset rmq-lab mq3: queued');
      expect(said(now.blocks)).toMatch(
        new RegExp(`requested by <@${OPERATOR}> · approved by <@${APPROVER}> at \\d{4}-`),
      );
      expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`]);
      // A second click, even by the same approver, runs nothing more.
      const again = await pressAndHear(card, 'approve', APPROVER_2);
      expect(said(again.body)).toContain(`already approved by <@${APPROVER}>`);
      expect(await jobs()).toHaveLength(1);
    },
  );

  it('enqueues one job when two approvers click Approve at once; the other hears it was decided', async () => {
    await start();
    const card = await requestReset();
    const [a, b] = await Promise.all([
      pressApprovalButton(h.driver, card, 'approve', APPROVER),
      pressApprovalButton(h.driver, card, 'approve', APPROVER_2),
    ]);
    const answers = await h.emulator.waitFor(() => {
      const all = [...h.emulator.responsesTo(a.responseUrl), ...h.emulator.responsesTo(b.responseUrl)];
      return all.length === 1 ? all : undefined;
    }, 'one private answer, to the loser');
    expect(said(answers[0].body)).toContain('already approved');
    await h.bot.afterAck.idle();
    expect(await jobs()).toHaveLength(1);
    const trail = await auditTrail();
    expect(trail.filter((line) => line.startsWith('approved'))).toHaveLength(1);
    expect(trail.filter((line) => line.startsWith('refused'))).toHaveLength(1);
  });

  it(
    "refuses the requester's own approval, a non-approver's and an " + "outsider channel's; none changes anything",
    async () => {
      await start();
      const card = await requestReset(APPROVER);
      const own = await pressAndHear(card, 'approve', APPROVER);
      expect(own.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
      expect(said(own.body)).toContain('someone else must approve it');
      const operator = await pressAndHear(card, 'approve', OPERATOR);
      expect(said(operator.body)).toContain('needs the *approver* role');
      const viewerDeny = await pressAndHear(card, 'deny', VIEWER);
      expect(said(viewerDeny.body)).toContain('needs the *approver* role');
      const elsewhere = await pressApprovalButton(h.driver, card, 'approve', APPROVER_2, OTHER_CHANNEL);
      expect(
        said(await h.emulator.waitFor(() => h.emulator.responsesTo(elsewhere.responseUrl)[0], 'the channel refusal')),
      ).toContain("don't take commands in this channel");
      await h.bot.afterAck.idle();

      expect(await jobs()).toEqual([]);
      expect(buttonsOf(card.ts)).toBe(card.approvalId);
      expect(h.emulator.callsOf('chat.update')).toEqual([]);
      const entries = (await waitForAudit(5)).slice(1);
      expect(entries).toEqual([
        `refused ${APPROVER}`,
        `refused ${OPERATOR}`,
        `refused ${VIEWER}`,
        `refused ${APPROVER_2}`,
      ]);
      // Still pending: a rightful approver can still decide.
      await pressApprovalButton(h.driver, card, 'approve', APPROVER_2);
      await expect.poll(async () => (await jobs()).length).toBe(1);
    },
  );

  it("ignores a click that claims to come from another channel than the card's, even an allowed one", async () => {
    const config = testConfig();
    await start({ config: { ...config, slack: { ...config.slack, channels: [CHANNEL, 'C0SECOND1'] } } });
    const card = await requestReset();
    const press = await pressApprovalButton(h.driver, card, 'approve', APPROVER, 'C0SECOND1');
    expect(said(await h.emulator.waitFor(() => h.emulator.responsesTo(press.responseUrl)[0], 'the answer'))).toContain(
      'unknown to warren',
    );
    await h.bot.afterAck.idle();
    expect(await jobs()).toEqual([]);
    expect(buttonsOf(card.ts)).toBe(card.approvalId);
    expect(await waitForAudit(2)).toEqual([`requested ${OPERATOR}`, `refused ${APPROVER}`]);
  });

  it('lets the requester approve their own request when slack.allowSelfApproval is on', async () => {
    const config = testConfig();
    await start({ config: { ...config, slack: { ...config.slack, allowSelfApproval: true } } });
    const card = await requestReset(APPROVER);
    await pressApprovalButton(h.driver, card, 'approve', APPROVER);
    await expect.poll(async () => (await jobs()).length).toBe(1);
    expect(JobData.parse((await jobs())[0].data).authorization).toEqual({
      kind: 'approval',
      approvalId: card.approvalId,
      approvedBy: APPROVER,
    });
  });

  it('Deny enqueues nothing and replaces the buttons with who denied and when', async () => {
    await start();
    const card = await requestReset();
    await pressApprovalButton(h.driver, card, 'deny', APPROVER);
    await h.emulator.waitFor(() => h.emulator.message(CHANNEL, card.ts)!.history.length > 1, 'the card to change');
    await h.bot.afterAck.idle();
    const now = h.emulator.message(CHANNEL, card.ts)!;
    expect(buttonsOf(card.ts)).toBeUndefined();
    expect(said(now.blocks)).toContain(`*Denied* by <@${APPROVER}>`);
    expect(said(now.blocks)).toContain('comes back as a blank single node');
    expect(now.text).toBe(`node reset rmq-lab mq3 (requested by ${OPERATOR}): denied by ${APPROVER}`);
    expect(await jobs()).toEqual([]);
    const late = await pressAndHear(card, 'approve', APPROVER_2);
    expect(said(late.body)).toContain(`already denied by <@${APPROVER}>`);
    expect(await jobs()).toEqual([]);
    expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `denied ${APPROVER}`, `refused ${APPROVER_2}`]);
  });

  it('refuses a click after expiry, marks the request expired and closes its card; nothing is enqueued', async () => {
    await start();
    const card = await requestReset();
    clock += 15 * MINUTE;
    const answer = await pressAndHear(card, 'approve', APPROVER);
    expect(said(answer.body)).toContain('This request expired');
    expect(await jobs()).toEqual([]);
    expect(buttonsOf(card.ts)).toBeUndefined();
    expect(said(h.emulator.message(CHANNEL, card.ts)!.blocks)).toContain('(nobody decided within 15 min)');
    expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, 'expired warren', `refused ${APPROVER}`]);
  });

  it('says "approved but not run" on the card when another operation took the cluster meanwhile', async () => {
    await start();
    const card = await requestReset();
    const other = await enqueueOperation(h.queue, h.redis, {
      operation: 'cluster.create',
      cluster: 'rmq-lab',
      origin: { kind: 'cli', user: 'alice' },
      requestedAt: new Date().toISOString(),
    });
    expect(other.status).toBe('queued');
    const answer = await pressAndHear(card, 'approve', APPROVER);
    expect(said(answer.body)).toContain('already has an operation running');
    expect(said(h.emulator.message(CHANNEL, card.ts)!.blocks)).toContain('*but not run*: the cluster is busy');
    expect(buttonsOf(card.ts)).toBeUndefined();
    expect(await jobs()).toHaveLength(1);
    expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, `approved ${APPROVER}`, `refused ${APPROVER}`]);
  });

  it('passes allowWipe for node.add, whose card showed what the join wipes', async () => {
    await start({ wipes: ['mq4 holds 2 queues'] });
    await h.driver.slashCommand({ text: 'node add rmq-lab mq4' });
    const card = await waitForApprovalCard(h.emulator, CHANNEL);
    expect(said(card.message.blocks)).toContain('mq4 holds 2 queues');
    await pressApprovalButton(h.driver, card, 'approve', APPROVER);
    await expect.poll(async () => (await jobs()).length).toBe(1);
    expect(JobData.parse((await jobs())[0].data)).toMatchObject({
      operation: 'node.add',
      node: 'mq4',
      options: { allowWipe: true },
    });
  });
});

describe('over Socket Mode', () => {
  it("asks, and an approver's press queues the job, as over HTTP", async () => {
    await start({ mode: 'socket' });
    const { ack } = await h.driver.slashCommandViaSocket({ text: 'cluster teardown spare' });
    expect(said(ack.payload)).toContain('Checking the safety gates of cluster teardown spare');
    const card = await waitForApprovalCard(h.emulator, CHANNEL);
    expect(said(card.message.blocks)).toContain('Reset every node of *spare* (`mq4`)');
    const press = await h.driver.interactionViaSocket(
      h.driver.blockAction({ actionId: APPROVE_ACTION, value: card.approvalId, user: APPROVER, messageTs: card.ts }),
    );
    expect(press.ack.payload ?? {}).toEqual({});
    await expect.poll(async () => (await jobs()).length).toBe(1);
    expect(JobData.parse((await jobs())[0].data)).toMatchObject({
      operation: 'cluster.teardown',
      cluster: 'spare',
      authorization: { kind: 'approval', approvedBy: APPROVER },
    });
  });
});

describe('expiry', () => {
  it('the sweeper closes an overdue request once, also after a bot restart', async () => {
    await start({ approvalSweepMs: 50 });
    const card = await requestReset();
    await h.restartBot();
    clock += 16 * MINUTE;
    await h.emulator.waitFor(
      () => said(h.emulator.message(CHANNEL, card.ts)!.blocks).includes('nobody decided within 15 min'),
      'the expired card',
    );
    expect(buttonsOf(card.ts)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 200));
    expect(await auditTrail()).toEqual([`requested ${OPERATOR}`, 'expired warren']);
    expect(h.emulator.callsOf('chat.update')).toHaveLength(1);
    const late = await pressAndHear(card, 'approve', APPROVER);
    expect(said(late.body)).toContain('This request expired');
    expect(await jobs()).toEqual([]);
  });
});

describe('/rabbit audit', () => {
  it('lists the latest entries privately, newest last, with user ids; one cluster or all', async () => {
    await start();
    const first = await requestReset();
    await pressApprovalButton(h.driver, first, 'deny', APPROVER);
    await waitForAudit(2);
    await h.driver.slashCommand({ text: 'node reset rmq-lab mq3', user: VIEWER });
    await h.driver.slashCommand({ text: 'cluster teardown spare' });
    await waitForApprovalCard(h.emulator, CHANNEL, 1);
    await waitForAudit(3);

    const reply = await h.driver.slashCommand({ text: 'audit rmq-lab', user: VIEWER });
    const list = await h.emulator.waitFor(() => h.emulator.responsesTo(reply.responseUrl)[0], 'the audit list');
    expect(list.body.response_type).toBe('ephemeral');
    expect(
      String(list.body.text)
        .split('\n')
        .map((line) => line.replace(/^\S+ /, '')),
    ).toEqual([`requested node.reset rmq-lab mq3 by ${OPERATOR}`, `denied node.reset rmq-lab mq3 by ${APPROVER}`]);
    expect(said(list.body.blocks)).toContain(`<@${APPROVER}>`);

    const all = await h.driver.slashCommand({ text: 'audit', user: VIEWER });
    const everything = await h.emulator.waitFor(
      () => h.emulator.responsesTo(all.responseUrl)[0],
      'the whole audit list',
    );
    expect(String(everything.body.text).split('\n').at(-1)).toContain(
      `requested cluster.teardown spare by ${OPERATOR}`,
    );
  });
});
