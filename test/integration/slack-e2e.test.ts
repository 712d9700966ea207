/**
 * End to end through Slack's path on the lab: a signed /rabbit cluster create reaches the real bot
 * over HTTP, a real worker runs the job over SSH against three real RabbitMQ hosts, and the
 * emulator records the card and its thread. Then /rabbit status on a cluster with a node stopped.
 * Needs root (the lab). Run: npx vitest run test/integration/slack-e2e.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { connectRedis } from '../../src/queue/redis.js';
import { startWorker } from '../../src/queue/worker.js';
import type { RunningWorker } from '../../src/queue/worker.js';
import { readClusterStatus } from '../../src/status/read-cluster-status.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import type { EmulatedMessage } from '../../tools/slack-emulator/emulator.js';
import { CHANNEL, OPERATOR, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';
import { renderThread } from '../../tools/slack-emulator/render.js';
import { operations } from '../../jobs/index.js';

describe('Slack → bot → worker → lab', () => {
  let lab: Lab;
  let h: SlackHarness;
  let worker: RunningWorker;
  const workerRedis = connectRedis();

  beforeAll(async () => {
    lab = await labUp(3);
    const labConfig = await loadConfig(lab.configPath);
    const config: WarrenConfig = {
      ...labConfig,
      slack: { ...labConfig.slack, channels: [CHANNEL], users: { [OPERATOR]: ['operator'] } },
    };
    h = await startSlackHarness({ config, readClusterStatus });
    worker = await startWorker({
      operations,
      config,
      connection: workerRedis,
      prefix: h.prefix,
      logger: createLogger({ level: 'silent' }),
    });
  }, 240_000);

  afterAll(async () => {
    await worker?.close();
    workerRedis.disconnect();
    await h?.close();
    await lab?.down();
  }, 120_000);

  it('creates the cluster from a signed slash command: card all done, thread ending with 3 running nodes', async () => {
    const reply = await h.driver.slashCommand({ text: 'cluster create lab' });
    expect(reply.status).toBe(200);
    const card = await h.emulator.waitFor(
      () => h.emulator.channelMessages(CHANNEL).find((m) => m.text.startsWith('cluster.create lab')),
      'the job card',
    );
    await h.emulator.waitFor(
      () => /: (completed|failed)/.test(h.emulator.message(CHANNEL, card.ts)!.text),
      'the job to end',
      240_000,
    );
    await h.bot.reporter.idle();
    process.stdout.write(`\n${renderThread(h.emulator, CHANNEL, card.ts)}\n\n`);

    const final = h.emulator.message(CHANNEL, card.ts)!;
    const steps = /\((\d+)\/(\d+) steps\)/.exec(final.text);
    expect(final.text).toMatch(/^cluster\.create lab: completed/);
    expect(steps?.[1]).toBe(steps?.[2]);
    const checklist = JSON.stringify(final.blocks);
    expect(checklist).not.toMatch(/:(arrows_counterclockwise|white_circle|x):/);

    const thread = h.emulator.threadReplies(CHANNEL, card.ts);
    const last = thread.at(-1)!;
    expect(last.text).toBe('lab is healthy');
    const rows = JSON.stringify(last.blocks);
    for (const node of ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'])
      expect(rows).toContain(`:large_green_circle: *${node}*`);
    expect(rows).toContain('3/3 nodes running');
    expect(thread.some((m) => m.text.startsWith('transport_url: rabbit://USER:PASS@10.213.0.11:5672,'))).toBe(true);
    expect(new Set(thread.map((m) => m.text)).size).toBe(thread.length);
  }, 300_000);

  it('shows the cluster degraded, naming the node, when one node is stopped', async () => {
    expect((await lab.exec(3, 'rabbitmqctl stop_app </dev/null')).code).toBe(0);
    try {
      const before = h.emulator.channelMessages(CHANNEL).length;
      const reply = await h.driver.slashCommand({ text: 'status lab' });
      expect(JSON.stringify(reply.json)).toContain('Reading the status of lab');
      const card: EmulatedMessage = await h.emulator.waitFor(
        () => h.emulator.channelMessages(CHANNEL)[before],
        'the status card',
        120_000,
      );
      process.stdout.write(`\n${renderThread(h.emulator, CHANNEL, card.ts)}\n\n`);
      expect(card.text).toMatch(/^lab is degraded: .*rabbit@lab3 is stopped/);
      const rows = JSON.stringify(card.blocks);
      expect(rows).toContain(':red_circle: *rabbit@lab3* (lab3) · *stopped*');
      expect(rows).toContain('2/3 nodes running');
    } finally {
      await lab.exec(3, 'rabbitmqctl start_app </dev/null');
    }
  }, 180_000);
});
