/**
 * The bot's /healthz and /metrics on the Slack receiver's port: real Redis under a fresh prefix,
 * Slack through the emulator, worker heartbeats written by the worker's own startHeartbeat.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toWarrenError } from '../../src/errors.js';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { startBot } from '../../src/slack/runtime/bot.js';
import { heartbeatKey, startHeartbeat } from '../../src/queue/worker.js';
import { botHealth } from '../../src/slack/runtime/health.js';
import { createSlackHttpReceiver } from '../../src/slack/runtime/http-receiver.js';
import { SlackEmulator } from '../../tools/slack-emulator/emulator.js';
import {
  CHANNEL,
  FAST_REPORTER,
  OPERATOR,
  OUTSIDER,
  VIEWER,
  startSlackHarness,
  testConfig,
} from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';
import { refuseAllGates } from '../../tools/slack-emulator/gates.js';

let h: SlackHarness;

beforeEach(async () => {
  h = await startSlackHarness({ mode: 'http' });
});

afterEach(async () => {
  await h.close();
});

const botUrl = (path: string): string => `http://127.0.0.1:${String(h.bot.port)}${path}`;

async function scrape(): Promise<string> {
  const response = await fetch(botUrl('/metrics'));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/text\/plain/);
  return response.text();
}

describe('bot /healthz', () => {
  it('is healthy (200) while Redis answers and a worker of this prefix beats', async () => {
    const stop = startHeartbeat(h.redis, h.prefix, 'w-health');
    try {
      // One connection runs commands in order: the heartbeat's SET is in before this EXISTS.
      expect(await h.redis.exists(heartbeatKey(h.prefix, 'w-health'))).toBe(1);
      const response = await fetch(botUrl('/healthz'));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({ healthy: true, checks: { redis: { ok: true }, workers: { ok: true } } });
    } finally {
      await stop();
    }
  });

  it('is unhealthy (503, naming workers) when no worker of this prefix beats', async () => {
    // Another prefix's worker does not count: it takes jobs from another queue.
    const stop = startHeartbeat(h.redis, `${h.prefix}-other`, 'w-elsewhere');
    try {
      const response = await fetch(botUrl('/healthz'));
      expect(response.status).toBe(503);
      const report = (await response.json()) as {
        healthy: boolean;
        checks: Record<string, { ok: boolean; detail?: string }>;
      };
      expect(report.healthy).toBe(false);
      expect(report.checks.redis).toEqual({ ok: true });
      expect(report.checks.workers?.ok).toBe(false);
      expect(report.checks.workers?.detail).toContain(`${h.prefix}:heartbeat:worker:*`);
    } finally {
      await stop();
    }
  });

  it('is unhealthy (503, naming redis) within about a second when Redis does not answer', async () => {
    // Nothing listens there: ioredis queues commands and keeps reconnecting, as during a Redis outage.
    const dead = connectRedis('redis://127.0.0.1:6399');
    dead.on('error', () => undefined);
    const receiver = createSlackHttpReceiver({
      signingSecret: 'unused-signing-secret',
      logger: pino({ level: 'silent' }),
      health: () => botHealth(dead, h.prefix),
    });
    const server = await receiver.start(0);
    try {
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${String((server.address() as AddressInfo).port)}/healthz`);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({
        healthy: false,
        checks: { redis: { ok: false, detail: 'no answer within 1000 ms' }, workers: { ok: false } },
      });
    } finally {
      await receiver.stop();
      dead.disconnect();
    }
  });

  it('needs no Slack signature, and Slack requests still do', async () => {
    expect((await fetch(botUrl('/metrics'))).status).toBe(200);
    expect((await h.driver.slashCommand({ text: 'help' }, { secret: 'not-the-signing-secret' })).status).toBe(401);
    expect((await fetch(botUrl('/metrics'), { method: 'POST' })).status).toBe(404);
  });
});

describe('bot /metrics', () => {
  it('counts Web API calls retried after a 429, by method', async () => {
    h.emulator.rateLimit('chat.postMessage', 2, 0);
    const reply = await h.driver.slashCommand({ text: 'cluster create rmq-lab', user: OPERATOR, channel: CHANNEL });
    expect(reply.status).toBe(200);
    await h.emulator.waitFor(
      () => h.emulator.callsOf('chat.postMessage').some((c) => c.status !== 429),
      'the card, posted after the 429s',
    );

    expect(h.emulator.callsOf('chat.postMessage').filter((c) => c.status === 429)).toHaveLength(2);
    expect(await scrape()).toContain('warren_slack_api_retries_total{method="chat.postMessage"} 2');
  });

  it('counts slash commands by subcommand and outcome', async () => {
    const replies = [
      await h.driver.slashCommand({ text: 'help' }),
      await h.driver.slashCommand({ text: 'help' }),
      await h.driver.slashCommand({ text: 'cluster create rmq-lab', user: VIEWER }),
      await h.driver.slashCommand({ text: 'status', user: OUTSIDER }),
      await h.driver.slashCommand({ text: 'frobnicate everything' }),
      await h.driver.slashCommand({ text: 'cluster create no-such-cluster' }),
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);

    const text = await scrape();
    expect(text).toContain('warren_slack_commands_total{command="help",outcome="accepted"} 2');
    expect(text).toContain('warren_slack_commands_total{command="cluster.create",outcome="refused"} 1');
    expect(text).toContain('warren_slack_commands_total{command="status",outcome="refused"} 1');
    expect(text).toContain('warren_slack_commands_total{command="unknown",outcome="usage_error"} 1');
    expect(text).toContain('warren_slack_commands_total{command="cluster.create",outcome="usage_error"} 1');
    expect(text).toContain('warren_process_cpu_seconds_total');
  });
});

describe('bot in Socket Mode', () => {
  it('serves /healthz and /metrics on WARREN_METRICS_PORT, having no receiver port of its own', async () => {
    // Under the harness prefix, so its cleanup removes whatever this bot wrote.
    const prefix = `${h.prefix}:socket`;
    const queue = openOperationsQueue(h.redis, prefix);
    const emulator = await SlackEmulator.start();
    const port = 20000 + Math.floor(Math.random() * 20000);
    const bot = await startBot({
      config: testConfig(),
      redis: h.redis,
      queue,
      env: {
        SLACK_BOT_TOKEN: emulator.botToken,
        SLACK_APP_TOKEN: emulator.appToken,
        SLACK_API_URL: emulator.apiUrl,
        WARREN_METRICS_PORT: String(port),
      },
      logger: createLogger({ level: 'silent' }),
      checkSafetyGates: refuseAllGates,
      reporter: FAST_REPORTER,
    });
    const stop = startHeartbeat(h.redis, prefix, 'w-socket');
    try {
      expect(bot.port).toBeUndefined();
      const health = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
      expect([health.status, await health.json()]).toEqual([
        200,
        { healthy: true, checks: { redis: { ok: true }, workers: { ok: true } } },
      ]);
      expect(await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text()).toContain(
        '# TYPE warren_slack_commands_total counter',
      );
    } finally {
      await stop();
      await bot.close();
      await queue.close();
      await emulator.close();
    }
    await expect(fetch(`http://127.0.0.1:${String(port)}/healthz`)).rejects.toThrow();
  });
  it('fails its start with listen.failed when WARREN_METRICS_PORT is taken, and leaves nothing running', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    const port = (taken.address() as AddressInfo).port;
    const queue = openOperationsQueue(h.redis, `${h.prefix}:socket-taken`);
    const emulator = await SlackEmulator.start();
    try {
      const started = startBot({
        config: testConfig(),
        redis: h.redis,
        queue,
        env: {
          SLACK_BOT_TOKEN: emulator.botToken,
          SLACK_APP_TOKEN: emulator.appToken,
          SLACK_API_URL: emulator.apiUrl,
          WARREN_METRICS_PORT: String(port),
        },
        logger: createLogger({ level: 'silent' }),
        checkSafetyGates: refuseAllGates,
        reporter: FAST_REPORTER,
      });
      // Bolt's own route server listened without an error handler: this process used to die here.
      const error: unknown = await started.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(toWarrenError(error)).toMatchObject({
        code: 'listen.failed',
        message: `cannot listen on 0.0.0.0:${port}: another process already uses that port`,
      });
      // Slack was never connected: the port is opened first.
      expect(emulator.callsOf('apps.connections.open')).toEqual([]);
    } finally {
      await queue.close();
      await emulator.close();
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
