/**
 * Crash safety as an operator in Slack sees it, on the lab, with the bot as a real process:
 * - the bot SIGKILLed in the middle of a create and started again: every step still reaches the
 *   card, the card ends completed, and nothing is posted twice;
 * - a host's link taken down in the middle of its join (a silent partition, not a refused
 *   connection): the card ends failed naming the host, and once the link is back a second
 *   `/rabbit cluster create` from Slack completes the cluster.
 * Needs root (the lab) and a build (`dist/`). Run: npx vitest run test/integration/crash-slack.test.ts
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { readEvents } from '../../src/queue/events.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { JobData } from '../../src/operations/schema.js';
import type { StepEvent } from '../../src/operations/progress.js';
import { startWorker } from '../../src/queue/worker.js';
import type { RunningWorker } from '../../src/queue/worker.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { SlackDriver } from '../../tools/slack-emulator/driver.js';
import { removeRunData } from '../../tools/redis/remove-run-data.js';
import { SlackEmulator } from '../../tools/slack-emulator/emulator.js';
import type { EmulatedMessage } from '../../tools/slack-emulator/emulator.js';
import { CHANNEL, OPERATOR, SIGNING_SECRET } from '../../tools/slack-emulator/harness.js';
import { renderThread } from '../../tools/slack-emulator/render.js';
import { operations } from '../../jobs/index.js';

const NODES = ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** `warren bot` as production runs it, against the emulator; resolves once it serves requests. */
async function spawnBot(
  configPath: string,
  prefix: string,
  emulator: SlackEmulator,
  port: number,
  output: string[],
): Promise<ChildProcess> {
  const child = spawn('node', ['dist/src/cli/bin.js', '--config', configPath, '--prefix', prefix, 'bot'], {
    env: {
      ...process.env,
      SLACK_BOT_TOKEN: emulator.botToken,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: emulator.apiUrl,
      PORT: String(port),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (d: Buffer) => output.push(d.toString('utf8'));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the bot exited with ${child.exitCode}: ${output.join('').slice(-2000)}`);
    const ready = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      () => true,
      () => false,
    );
    if (ready) return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`the bot did not listen on ${port} within 30 s: ${output.join('').slice(-2000)}`);
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

describe('crashes seen from Slack', () => {
  let lab: Lab;
  let emulator: SlackEmulator;
  let dir: string;
  let configPath: string;
  let config: WarrenConfig;
  let prefix: string;
  let port: number;
  let driver: SlackDriver;
  let worker: RunningWorker | undefined;
  let bot: ChildProcess | undefined;
  const botOutput: string[] = [];
  const redis = connectRedis();
  const workerRedis = connectRedis();

  beforeAll(async () => {
    lab = await labUp(3);
    emulator = await SlackEmulator.start();
    dir = await mkdtemp(join(tmpdir(), 'warren-crash-slack-'));
    const labConfig = await loadConfig(lab.configPath);
    config = {
      ...labConfig,
      // Short SSH deadlines so a silent partition fails within seconds, not minutes.
      ssh: { ...labConfig.ssh, connectTimeoutMs: 5000, commandTimeoutMs: 25_000 },
      slack: { ...labConfig.slack, channels: [CHANNEL], users: { [OPERATOR]: ['operator'] } },
    };
    configPath = join(dir, 'warren.yaml');
    await writeFile(configPath, stringify(config));
    prefix = `crash-slack-${randomUUID().slice(0, 8)}`;
    port = await freePort();
    driver = new SlackDriver({
      emulator,
      signingSecret: SIGNING_SECRET,
      botUrl: `http://127.0.0.1:${port}/slack/events`,
    });
  }, 240_000);

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    if (bot) await killed(bot);
    bot = undefined;
  }, 60_000);

  afterAll(async () => {
    await removeRunData(redis, openOperationsQueue(redis, prefix), prefix);
    redis.disconnect();
    workerRedis.disconnect();
    await emulator?.close();
    await lab?.heal(3).catch(() => undefined);
    await lab?.down();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  const startWorkerInProcess = async () => {
    worker = await startWorker({
      operations,
      config,
      connection: workerRedis,
      prefix,
      logger: createLogger({ level: 'silent' }),
    });
  };

  /** Sends `/rabbit cluster create lab` and returns the job card it posts. */
  async function createFromSlack(): Promise<EmulatedMessage> {
    const before = new Set(emulator.channelMessages(CHANNEL).map((m) => m.ts));
    const reply = await driver.slashCommand({ text: 'cluster create lab', user: OPERATOR });
    expect(reply.status).toBe(200);
    return emulator.waitFor(
      () => emulator.channelMessages(CHANNEL).find((m) => !before.has(m.ts) && m.text.startsWith('cluster.create lab')),
      'the job card',
      30_000,
    );
  }

  const cardText = (card: EmulatedMessage) => emulator.message(CHANNEL, card.ts)?.text ?? '';

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

  /** Waits for the job's first step event that matches, reading its event stream (not the throttled card). */
  async function untilStep(jobId: string, matches: (event: StepEvent) => boolean, timeoutMs: number): Promise<void> {
    let last = '0';
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const { id, event } of await readEvents(redis, prefix, jobId, last, { blockMs: 500 })) {
        last = id;
        if (event.type === 'step' && matches(event)) return;
      }
    }
    throw new Error(`job ${jobId}: no matching step event within ${timeoutMs} ms`);
  }

  it('the bot SIGKILLed mid-create and restarted: the card still ends completed, nothing posted twice', async () => {
    bot = await spawnBot(configPath, prefix, emulator, port, botOutput);
    await startWorkerInProcess();
    const card = await createFromSlack();

    // Kill the bot once the joins are under way: the worker goes on without it.
    await untilStep(await jobOf(card), (e) => e.step === 'rabbit:join' && e.state === 'running', 180_000);
    await killed(bot);
    const updatesBeforeRestart = emulator.callsOf('chat.update').length;
    // Let progress pile up in Redis while no bot runs.
    await new Promise((r) => setTimeout(r, 4000));
    bot = await spawnBot(configPath, prefix, emulator, port, botOutput);

    await emulator.waitFor(() => /: (completed|failed)/.test(cardText(card)), 'the job to end on the card', 240_000);
    // The reporter posts the final replies right after the card's final update.
    await emulator.waitFor(
      () => emulator.threadReplies(CHANNEL, card.ts).some((m) => m.text === 'lab is healthy'),
      'the status card in the thread',
      30_000,
    );
    process.stdout.write(`\n${renderThread(emulator, CHANNEL, card.ts)}\n\n`);

    expect(cardText(card), botOutput.join('').slice(-3000)).toMatch(/^cluster\.create lab: completed/);
    const steps = /\((\d+)\/(\d+) steps\)/.exec(cardText(card));
    expect(steps?.[1]).toBe(steps?.[2]);
    expect(JSON.stringify(emulator.message(CHANNEL, card.ts)?.blocks)).not.toMatch(
      /:(arrows_counterclockwise|white_circle|x):/,
    );
    // The restarted bot took the card over: it edited it after the restart.
    expect(emulator.callsOf('chat.update').length).toBeGreaterThan(updatesBeforeRestart);
    const thread = emulator.threadReplies(CHANNEL, card.ts);
    expect(new Set(thread.map((m) => m.text)).size, thread.map((m) => m.text).join('\n')).toBe(thread.length);
    expect(thread.filter((m) => m.text === 'lab is healthy')).toHaveLength(1);
    // One card per create: the restart posted no second card.
    expect(emulator.channelMessages(CHANNEL).filter((m) => m.text.startsWith('cluster.create lab'))).toHaveLength(1);
  }, 360_000);

  it(
    "lab3's link down in the middle of its join: the card fails naming " +
      'lab3, and a create from Slack after the link is back completes',
    async () => {
      // Start from three standalone nodes again: lab2 and lab3 leave the cluster the first test made.
      for (const i of [3, 2]) {
        for (const command of ['rabbitmqctl stop_app', 'rabbitmqctl reset', 'rabbitmqctl start_app']) {
          const result = await lab.exec(i, `${command} </dev/null`);
          expect(result.code, `${command} on lab${i}: ${result.stderr}`).toBe(0);
        }
      }
      bot = await spawnBot(configPath, prefix, emulator, port, botOutput);
      await startWorkerInProcess();
      const card = await createFromSlack();

      // lab3 joins after lab2: cut lab3 off as its turn comes.
      await untilStep(
        await jobOf(card),
        (e) => e.step === 'rabbit:join' && e.host === 'lab3' && e.state === 'running',
        180_000,
      );
      await lab.isolate(3);
      try {
        await emulator.waitFor(
          () => /: (completed|failed)/.test(cardText(card)),
          'the job to end on the card',
          300_000,
        );
        process.stdout.write(`\n${renderThread(emulator, CHANNEL, card.ts)}\n\n`);
        expect(cardText(card)).toMatch(/^cluster\.create lab: failed/);
        const said = [
          cardText(card),
          JSON.stringify(emulator.message(CHANNEL, card.ts)?.blocks),
          ...emulator.threadReplies(CHANNEL, card.ts).map((m) => m.text),
        ].join('\n');
        expect(said).toMatch(/lab3/);
      } finally {
        await lab.heal(3);
      }

      const again = await createFromSlack();
      await emulator.waitFor(() => /: (completed|failed)/.test(cardText(again)), 'the second create to end', 300_000);
      process.stdout.write(`\n${renderThread(emulator, CHANNEL, again.ts)}\n\n`);
      expect(cardText(again)).toMatch(/^cluster\.create lab: completed/);
      for (const i of [1, 2, 3]) {
        const status = JSON.parse(
          (await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null')).stdout,
        ) as { running_nodes: string[]; disk_nodes: string[] };
        expect([...status.running_nodes].sort()).toEqual(NODES);
        expect([...status.disk_nodes].sort()).toEqual(NODES);
      }
    },
    720_000,
  );
});
