/**
 * Destructive operations end to end through Slack's path on the lab: signed slash commands and
 * button presses reach the real bot, the real gate checker reads the real nodes over SSH, a real
 * worker runs the approved job, and what it leaves is read from the nodes themselves.
 * Needs root (the lab). Run: npx vitest run test/integration/slack-approvals-e2e.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/store.js';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { checkSafetyGates } from '../../src/gates/check.js';
import { createLogger } from '../../src/log/logger.js';
import { connectRedis } from '../../src/queue/redis.js';
import { JobData } from '../../src/operations/schema.js';
import { startWorker } from '../../src/queue/worker.js';
import type { RunningWorker } from '../../src/queue/worker.js';
import { readClusterStatus } from '../../src/status/read-cluster-status.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { approvalCards, pressApprovalButton, waitForApprovalCard } from '../../tools/slack-emulator/approvals.js';
import {
  APPROVER,
  APPROVER_2,
  CHANNEL,
  OPERATOR,
  VIEWER,
  startSlackHarness,
} from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';
import { renderThread } from '../../tools/slack-emulator/render.js';
import { operations } from '../../jobs/index.js';

const APPROVER_3 = 'U0APPROV3';
const sorted = (list: string[]) => [...list].sort();

describe('Slack approvals → worker → lab', () => {
  let lab: Lab;
  let h: SlackHarness;
  let worker: RunningWorker;
  let audit: AuditLog;
  const workerRedis = connectRedis();

  /** cluster_status seen from one lab host through the backdoor (not through warren). */
  async function statusOn(i: number): Promise<{ running_nodes: string[]; disk_nodes: string[] }> {
    const result = await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null', { timeoutMs: 90_000 });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as { running_nodes: string[]; disk_nodes: string[] };
  }

  /** The jobs queued so far whose data says a Slack approval released them. */
  async function approvedJobs(): Promise<JobData[]> {
    const jobs = await h.queue.getJobs();
    return jobs.map((j) => JobData.parse(j.data)).filter((d) => d.authorization?.kind === 'approval');
  }

  /** Sends a slash command and returns the ephemeral answers posted to its response_url so far. */
  async function command(text: string, user: string): Promise<{ responseUrl: string; texts: () => string[] }> {
    const reply = await h.driver.slashCommand({ text, user });
    expect(reply.status).toBe(200);
    return {
      responseUrl: reply.responseUrl,
      texts: () => h.emulator.responsesTo(reply.responseUrl).map((r) => JSON.stringify(r.body)),
    };
  }

  beforeAll(async () => {
    lab = await labUp(3);
    const labConfig = await loadConfig(lab.configPath);
    const config: WarrenConfig = {
      ...labConfig,
      slack: {
        ...labConfig.slack,
        channels: [CHANNEL],
        users: {
          [OPERATOR]: ['operator'],
          [VIEWER]: ['viewer'],
          [APPROVER]: ['approver'],
          [APPROVER_2]: ['approver'],
          [APPROVER_3]: ['approver'],
        },
      },
    };
    h = await startSlackHarness({ config, readClusterStatus, checkSafetyGates });
    audit = new AuditLog(h.redis, h.prefix);
    worker = await startWorker({
      operations,
      config,
      connection: workerRedis,
      prefix: h.prefix,
      logger: createLogger({ level: 'silent' }),
    });

    // The cluster the destructive operations act on, created from Slack as an operator would.
    await command('cluster create lab', OPERATOR);
    const card = await h.emulator.waitFor(
      () => h.emulator.channelMessages(CHANNEL).find((m) => m.text.startsWith('cluster.create lab')),
      'the create card',
    );
    await h.emulator.waitFor(
      () => /: (completed|failed)/.test(h.emulator.message(CHANNEL, card.ts)!.text),
      'the create to end',
      240_000,
    );
    expect(h.emulator.message(CHANNEL, card.ts)!.text).toMatch(/^cluster\.create lab: completed/);
  }, 360_000);

  afterAll(async () => {
    await worker?.close();
    workerRedis.disconnect();
    await h?.close();
    await lab?.down();
  }, 120_000);

  it('Deny runs nothing: the card shows who denied, no job is queued, lab2 stays clustered', async () => {
    await command('node reset lab lab2', APPROVER);
    const card = await waitForApprovalCard(h.emulator, CHANNEL, 0);
    const denied = await pressApprovalButton(h.driver, card, 'deny', APPROVER_2);
    expect(denied.status).toBe(200);
    await h.emulator.waitFor(
      () => /denied/i.test(JSON.stringify(h.emulator.message(CHANNEL, card.ts)?.blocks)),
      'the denied card',
      30_000,
    );
    expect(JSON.stringify(h.emulator.message(CHANNEL, card.ts)?.blocks)).toContain(APPROVER_2);
    expect(await approvedJobs()).toEqual([]);
    expect(sorted((await statusOn(2)).running_nodes)).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3']);
  }, 120_000);

  it(
    'a reset requested by one user and approved by another: lab3 blank and ' +
      'single, lab1 and lab2 clustered and healthy; own, non-approver and ' +
      'parallel clicks act once',
    async () => {
      await command('node reset lab lab3', APPROVER);
      const card = await waitForApprovalCard(h.emulator, CHANNEL, 1);
      const posted = JSON.stringify(card.message.history[0]?.blocks ?? card.message.blocks);
      // The card says what will happen and shows the dry run's commands and the gates' verdicts.
      expect(posted).toContain('lab3');
      expect(posted).toMatch(/rabbitmqctl -q reset/);

      // The requester's own click and a non-approver's click are refused and change nothing.
      const own = await pressApprovalButton(h.driver, card, 'approve', APPROVER);
      const notApprover = await pressApprovalButton(h.driver, card, 'approve', OPERATOR);
      await h.emulator.waitFor(
        () =>
          h.emulator.responsesTo(own.responseUrl).length > 0 &&
          h.emulator.responsesTo(notApprover.responseUrl).length > 0,
        'the two refusals',
        15_000,
      );
      expect(await approvedJobs()).toEqual([]);
      expect(approvalCards(h.emulator, CHANNEL)[1]?.message.blocks).toEqual(
        card.message.history[0]?.blocks ?? card.message.blocks,
      );

      // Two approvers at once: one job.
      await Promise.all([
        pressApprovalButton(h.driver, card, 'approve', APPROVER_2),
        pressApprovalButton(h.driver, card, 'approve', APPROVER_3),
      ]);
      await h.emulator.waitFor(
        () => /node\.reset lab lab3: (completed|failed)/.test(h.emulator.message(CHANNEL, card.ts)?.text ?? ''),
        'the reset to end on the card',
        240_000,
      );
      await h.bot.reporter.idle();
      process.stdout.write(`\n${renderThread(h.emulator, CHANNEL, card.ts)}\n\n`);
      expect(h.emulator.message(CHANNEL, card.ts)?.text).toMatch(/^node\.reset lab lab3: completed/);
      const jobs = await approvedJobs();
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({
        operation: 'node.reset',
        cluster: 'lab',
        node: 'lab3',
        origin: { kind: 'slack', user: APPROVER, cardTs: card.ts },
      });
      expect([APPROVER_2, APPROVER_3]).toContain(
        jobs[0]?.authorization?.kind === 'approval' ? jobs[0].authorization.approvedBy : undefined,
      );

      // lab3 is a blank single node; lab1 and lab2 are still one healthy cluster without it.
      const lab3 = await statusOn(3);
      expect(lab3.disk_nodes).toEqual(['rabbit@lab3']);
      expect(lab3.running_nodes).toEqual(['rabbit@lab3']);
      const vhosts = await lab.exec(3, 'rabbitmqctl -q list_vhosts --formatter json name </dev/null');
      expect(JSON.parse(vhosts.stdout)).toEqual([{ name: '/' }]);
      for (const i of [1, 2]) {
        const status = await statusOn(i);
        expect(sorted(status.running_nodes)).toEqual(['rabbit@lab1', 'rabbit@lab2']);
        expect(sorted(status.disk_nodes)).toEqual(['rabbit@lab1', 'rabbit@lab2']);
      }
    },
    360_000,
  );

  it('the reset of the last running node is refused before any button is shown', async () => {
    const cardsBefore = approvalCards(h.emulator, CHANNEL).length;
    expect((await lab.exec(2, 'rabbitmqctl stop_app </dev/null')).code).toBe(0);
    try {
      const request = await command('node reset lab lab1', APPROVER);
      await h.emulator.waitFor(
        () => request.texts().some((t) => /last running disk node/.test(t)),
        'the refusal naming the gate',
        120_000,
      );
      expect(approvalCards(h.emulator, CHANNEL)).toHaveLength(cardsBefore);
    } finally {
      expect((await lab.exec(2, 'rabbitmqctl start_app </dev/null')).code).toBe(0);
    }
  }, 240_000);

  it('the audit log lists every event in order, with the user ids, and /rabbit audit shows it', async () => {
    const entries = (await audit.latest({ cluster: 'lab', limit: 100 })).map((e) => e.entry);
    const lines = entries.map((e) => `${e.event} ${e.operation} ${e.node ?? ''} ${e.actor}`);
    const expected = [
      `requested node.reset lab2 ${APPROVER}`,
      `denied node.reset lab2 ${APPROVER_2}`,
      `requested node.reset lab3 ${APPROVER}`,
      `refused node.reset lab3 ${APPROVER}`,
      `refused node.reset lab3 ${OPERATOR}`,
    ];
    expect(lines.slice(0, expected.length)).toEqual(expected);
    const rest = lines.slice(expected.length);
    // One approval won; the other parallel click was refused as already decided (either order).
    const approved = rest.filter((l) => l.startsWith('approved node.reset lab3'));
    expect(approved).toHaveLength(1);
    const [winner] = approved;
    const loser = winner?.endsWith(APPROVER_2) ? APPROVER_3 : APPROVER_2;
    expect(rest).toContain(`refused node.reset lab3 ${loser}`);
    const started = rest.findIndex((l) => l.startsWith('started node.reset lab3'));
    const completed = rest.findIndex((l) => l.startsWith('completed node.reset lab3'));
    expect(rest.indexOf(winner)).toBeLessThan(started);
    expect(started).toBeLessThan(completed);
    expect(rest.at(-1)).toBe(`refused node.reset lab1 ${APPROVER}`);

    const listing = await command('audit lab', VIEWER);
    await h.emulator.waitFor(() => listing.texts().length > 0, 'the audit listing', 15_000);
    const shown = listing.texts().join('\n');
    for (const user of [APPROVER, APPROVER_2, OPERATOR]) expect(shown).toContain(user);
  }, 60_000);
});
