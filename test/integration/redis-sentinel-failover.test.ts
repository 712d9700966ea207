/**
 * Redis failed over by Sentinel in the middle of a cluster create, as an operator in Slack sees it:
 * `warren bot` and `warren worker` run as production runs them, configured only by REDIS_SENTINELS,
 * REDIS_SENTINEL_MASTER, REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD (no REDIS_URL), against a
 * Sentinel group of the test's own (a primary, a replica, three Sentinels on loopback ports
 * 6411-6412 and 26411-26413). During the joins the primary is failed over (`SENTINEL FAILOVER`:
 * the old primary keeps taking writes until Sentinel demotes it, the case that loses the most).
 * The job completes, the card ends completed with every step, and no event, audit entry or
 * approval decision written before the failover is missing afterwards.
 * Needs root (the lab), a build (`dist/`) and the lab lock:
 *   flock /tmp/warren-labtest.lock npx vitest run test/integration/redis-sentinel-failover.test.ts
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ApprovalStore } from '../../src/approvals/store.js';
import type { AuditEntry } from '../../src/audit/schema.js';
import { AuditLog } from '../../src/audit/store.js';
import { loadConfig } from '../../src/config/load.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import type { StoredEvent } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { JobData } from '../../src/operations/schema.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { SlackDriver } from '../../tools/slack-emulator/driver.js';
import { SlackEmulator } from '../../tools/slack-emulator/emulator.js';
import type { EmulatedMessage } from '../../tools/slack-emulator/emulator.js';
import { APPROVER, CHANNEL, OPERATOR, SIGNING_SECRET } from '../../tools/slack-emulator/harness.js';
import { renderThread } from '../../tools/slack-emulator/render.js';
import { startSentinelGroup } from '../support/sentinel-group.js';
import type { SentinelGroup } from '../support/sentinel-group.js';

const NODES = ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** `warren <command>` as production runs it, with the Sentinel group's environment and no REDIS_URL. */
function spawnWarren(
  group: SentinelGroup,
  args: string[],
  extraEnv: Record<string, string>,
  output: string[],
): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...group.env(), LOG_LEVEL: 'info', ...extraEnv };
  delete env.REDIS_URL;
  const child = spawn('node', ['dist/src/cli/bin.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (d: Buffer) => output.push(d.toString('utf8'));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return child;
}

async function killed(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

describe('Redis failed over by Sentinel during a create from Slack', () => {
  let group: SentinelGroup;
  let lab: Lab;
  let emulator: SlackEmulator;
  let dir: string;
  let redis: Redis;
  let bot: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  const botOutput: string[] = [];
  const workerOutput: string[] = [];
  const prefix = `sentinel-lab-${randomUUID().slice(0, 8)}`;
  let driver: SlackDriver;

  beforeAll(async () => {
    group = await startSentinelGroup({ redisPorts: [6411, 6412], sentinelPorts: [26411, 26412, 26413] });
    redis = connectRedis(group.settings());
    redis.on('error', () => undefined);
    lab = await labUp(3);
    emulator = await SlackEmulator.start();
    dir = await mkdtemp(join(tmpdir(), 'warren-sentinel-lab-'));
    const labConfig = await loadConfig(lab.configPath);
    const configPath = join(dir, 'warren.yaml');
    await writeFile(
      configPath,
      stringify({
        ...labConfig,
        slack: {
          ...labConfig.slack,
          channels: [CHANNEL],
          users: { [OPERATOR]: ['operator'], [APPROVER]: ['approver'] },
        },
      }),
    );
    const port = await freePort();
    driver = new SlackDriver({
      emulator,
      signingSecret: SIGNING_SECRET,
      botUrl: `http://127.0.0.1:${port}/slack/events`,
    });

    worker = spawnWarren(group, ['--config', configPath, '--prefix', prefix, 'worker'], {}, workerOutput);
    bot = spawnWarren(
      group,
      ['--config', configPath, '--prefix', prefix, 'bot'],
      {
        SLACK_BOT_TOKEN: emulator.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: emulator.apiUrl,
        PORT: String(port),
      },
      botOutput,
    );
    const deadline = Date.now() + 30_000;
    // Both ready: the bot serves /healthz, which is 200 only once Redis answers and a worker's heartbeat is there.
    for (;;) {
      if (bot.exitCode !== null || worker.exitCode !== null)
        throw new Error(
          `bot or worker exited: ${botOutput.join('').slice(-1500)} ${workerOutput.join('').slice(-1500)}`,
        );
      const status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (Date.now() > deadline)
        throw new Error(`bot not healthy within 30 s (last ${status}): ${botOutput.join('').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 240_000);

  afterAll(async () => {
    await killed(bot);
    await killed(worker);
    redis?.disconnect();
    await emulator?.close();
    await lab?.down();
    await group?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  /** The job a card belongs to, from the queue (its data carries the card's ts). */
  async function jobOf(card: EmulatedMessage): Promise<string> {
    const queue = openOperationsQueue(redis, prefix);
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        for (const job of await queue.getJobs()) {
          const data = JobData.safeParse(job.data);
          if (job.id && data.success && data.data.origin.kind === 'slack' && data.data.origin.cardTs === card.ts)
            return job.id;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`no job for card ${card.ts}`);
    } finally {
      await queue.close();
    }
  }

  async function allEvents(jobId: string): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    let last = '0';
    for (;;) {
      const batch = await readEvents(redis, prefix, jobId, last);
      if (batch.length === 0) return events;
      events.push(...batch);
      last = batch[batch.length - 1]?.id ?? last;
    }
  }

  it(
    'the job completes, the card ends completed with every step, and ' + 'nothing written before the failover is lost',
    async () => {
      const reply = await driver.slashCommand({ text: 'cluster create lab', user: OPERATOR });
      expect(reply.status).toBe(200);
      const card = await emulator.waitFor(
        () => emulator.channelMessages(CHANNEL).find((m) => m.text.startsWith('cluster.create lab')),
        'the job card',
        30_000,
      );
      const jobId = await jobOf(card);

      // Wait for the joins: the worker is mid-job, writing events, checkpoints and lock renewals.
      let last = '0';
      let joining = false;
      const deadline = Date.now() + 150_000;
      while (!joining && Date.now() < deadline) {
        for (const { id, event } of await readEvents(redis, prefix, jobId, last, { blockMs: 500 })) {
          last = id;
          if (event.type === 'step' && event.step === 'rabbit:join' && event.state === 'running') joining = true;
        }
      }
      expect(joining).toBe(true);

      // An audit entry and an approval decision (with its own audit entry) made just before the failover.
      const audit = new AuditLog(redis, prefix);
      // Under a prefix of its own: under the bot's, its sweeper would release the approval and reset lab3.
      const approvalPrefix = `${prefix}-approvals`;
      const approvals = new ApprovalStore(redis, approvalPrefix);
      const approvalId = randomUUID();
      const now = Date.now();
      await approvals.create({
        id: approvalId,
        operation: 'node.reset',
        cluster: 'lab',
        node: 'lab3',
        requester: OPERATOR,
        channel: CHANNEL,
        cardTs: card.ts,
        createdAt: now,
        expiresAt: now + 15 * 60_000,
        timeoutMinutes: 15,
        card: { text: 'Approval needed: node reset lab lab3', blocks: [] },
      });
      const beforeFailover: AuditEntry = {
        at: new Date().toISOString(),
        event: 'refused',
        operation: 'node.reset',
        cluster: 'lab',
        node: 'lab1',
        actor: OPERATOR,
        via: 'slack',
        detail: 'written just before the failover',
      };
      await audit.append(beforeFailover);
      const approvedEntry: AuditEntry = {
        at: new Date().toISOString(),
        event: 'approved',
        operation: 'node.reset',
        cluster: 'lab',
        node: 'lab3',
        actor: APPROVER,
        via: 'slack',
        approvalId,
      };
      expect((await approvals.decide(approvalId, 'approved', APPROVER, Date.now(), approvedEntry)).outcome).toBe('won');
      // Everything the job had published so far (before the writes above, so a replica has it too).
      const eventsBefore = await allEvents(jobId);

      const oldPrimary = await group.primaryPort();
      await group.failover();
      const newPrimary = await group.untilFailedOver(oldPrimary);
      expect(newPrimary).not.toBe(oldPrimary);
      // The failover happened during the create, not after it.
      const queue = openOperationsQueue(redis, prefix);
      expect(await queue.getJobState(jobId)).toBe('active');

      await emulator.waitFor(
        () => /: (completed|failed)/.test(emulator.message(CHANNEL, card.ts)?.text ?? ''),
        'the job to end on the card',
        150_000,
      );
      await emulator.waitFor(
        () => emulator.threadReplies(CHANNEL, card.ts).some((m) => m.text === 'lab is healthy'),
        'the status card in the thread',
        30_000,
      );
      process.stdout.write(`\n${renderThread(emulator, CHANNEL, card.ts)}\n\n`);

      const cardText = emulator.message(CHANNEL, card.ts)?.text ?? '';
      expect(cardText, `${botOutput.join('').slice(-2000)}\n${workerOutput.join('').slice(-2000)}`).toMatch(
        /^cluster\.create lab: completed/,
      );
      const steps = /\((\d+)\/(\d+) steps\)/.exec(cardText);
      expect(steps?.[1]).toBe(steps?.[2]);
      expect(JSON.stringify(emulator.message(CHANNEL, card.ts)?.blocks)).not.toMatch(
        /:(arrows_counterclockwise|white_circle|x):/,
      );
      expect(emulator.channelMessages(CHANNEL).filter((m) => m.text.startsWith('cluster.create lab'))).toHaveLength(1);

      // No event lost: every one published before the failover is still there, and every step of the runbook ended.
      const eventsAfter = await allEvents(jobId);
      const after = new Set(eventsAfter.map((e) => e.id));
      expect(eventsBefore.filter((e) => !after.has(e.id))).toEqual([]);
      const final = eventsAfter.at(-1)?.event;
      expect(final && isFinalEvent(final) && final.type === 'job' && final.state).toBe('completed');
      const runbook = eventsAfter
        .flatMap((e) => (e.event.type === 'job' && e.event.steps ? e.event.steps.map((s) => s.id) : []))
        .filter((id, i, all) => all.indexOf(id) === i);
      expect(runbook.length).toBeGreaterThan(0);
      for (const step of runbook) {
        expect(
          eventsAfter.some(
            (e) =>
              e.event.type === 'step' &&
              e.event.step === step &&
              e.event.host === undefined &&
              ['done', 'skipped'].includes(e.event.state),
          ),
          step,
        ).toBe(true);
      }
      // BullMQ moves the job to completed after the processor returns, which published the final event.
      const settled = Date.now() + 90_000;
      while ((await queue.getJobState(jobId)) !== 'completed' && Date.now() < settled)
        await new Promise((r) => setTimeout(r, 250));
      expect(
        await queue.getJobState(jobId),
        workerOutput
          .join('')
          .split('\n')
          .filter((l) => /"level":(40|50)/.test(l))
          .join('\n')
          .slice(-4000),
      ).toBe('completed');
      await queue.close();

      // No audit entry or approval decision lost.
      expect((await audit.latest({ cluster: 'lab', limit: 50 })).map((e) => e.entry)).toContainEqual(beforeFailover);
      expect((await new AuditLog(redis, approvalPrefix).latest()).map((e) => e.entry)).toEqual([approvedEntry]);
      expect(await approvals.get(approvalId)).toMatchObject({ state: 'approved', decidedBy: APPROVER });
      expect(await approvals.releasing()).toContain(approvalId);

      const warned = [...botOutput, ...workerOutput]
        .join('')
        .split('\n')
        .filter((l) => l.includes('critical write not confirmed'));
      process.stdout.write(
        `failover ${oldPrimary} -> ${newPrimary}; critical writes logged as ` +
          `unconfirmed: ${warned.length}\n${warned.join('\n')}\n`,
      );
      // The processes followed the Sentinels, never a URL.
      expect(workerOutput.join('')).toContain(
        `"redis":"sentinel ${group.masterName} via 127.0.0.1:26411,127.0.0.1:26412,127.0.0.1:26413"`,
      );
      for (const i of [1, 2, 3]) {
        const status = JSON.parse(
          (await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null')).stdout,
        ) as { running_nodes: string[] };
        expect([...status.running_nodes].sort()).toEqual(NODES);
      }
    },
    300_000,
  );
});
