/**
 * `/rabbit watch` on a real 3-node RabbitMQ 3.10.8 cluster (lab `wam`, formed once by warren's own
 * create): the real bot (Slack emulator), the real watch worker ticking every 2 s through BullMQ's
 * job scheduler, real SSH. A memory alarm, a crashed host and a silent link cut each give exactly one
 * alert and, once over, one recovery reply in that alert's thread; nothing is repeated while the
 * fault holds, nor after the worker and the bot restart in the middle of one.
 * Run: flock /tmp/warren-labslot-2.lock npx vitest run test/integration/watch.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { loadConfig } from '../../src/config/load.js';
import { WarrenConfig } from '../../src/config/schema.js';
import { addWatchGauges } from '../../src/observability/metrics.js';
import { connectRedis } from '../../src/queue/redis.js';
import { WatchStore, openWatchQueue, startWatchWorker } from '../../src/queue/watch.js';
import type { RunningWatchWorker } from '../../src/queue/watch.js';
import type { EmulatedMessage } from '../../tools/slack-emulator/emulator.js';
import { CHANNEL, OPERATOR, VIEWER, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { watchTick } from '../../jobs/watch.js';
import { startHarness } from './harness.js';

const NAME = 'wam';
const PERIOD_S = 2;

/** Polls an async probe until it holds. */
async function until(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('watch on a 3.10.8 cluster (lab wam)', () => {
  let lab: Lab;
  let slack: SlackHarness;
  let config: WarrenConfig;
  let watcher: RunningWatchWorker;
  const redis = connectRedis();
  const timings: string[] = [];
  let watchQueue: ReturnType<typeof openWatchQueue>;

  const startWatcher = () =>
    startWatchWorker({ config, connection: redis, prefix: slack.prefix, tick: watchTick, concurrency: 2 });
  const alerts = (): EmulatedMessage[] =>
    slack.emulator.channelMessages(CHANNEL).filter((m) => m.text.startsWith(`${NAME}:`));
  const replies = (alert: EmulatedMessage): EmulatedMessage[] => slack.emulator.threadReplies(CHANNEL, alert.ts);
  const store = () => new WatchStore(redis, slack.prefix);

  /** Waits for the next alert (the `count`-th) and says how long it took after the fault was made. */
  async function nextAlert(count: number, what: string, since: number, timeoutMs = 60_000): Promise<EmulatedMessage> {
    const alert = await slack.emulator.waitFor(() => alerts()[count - 1], what, timeoutMs);
    timings.push(`${what}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
    return alert;
  }

  async function recoveryOf(alert: EmulatedMessage, what: string, since: number): Promise<EmulatedMessage> {
    const reply = await slack.emulator.waitFor(() => replies(alert)[0], what, 120_000);
    timings.push(`${what}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
    return reply;
  }

  /** Several periods pass and the channel still holds exactly `count` alerts, and no thread more replies. */
  async function nothingRepeated(count: number, periods = 3): Promise<void> {
    const judged = (await store().state(NAME))?.judgedAt;
    // At least `periods` new judgements, so the quiet is the watch's, not a stalled worker's.
    let seen = 0;
    let last = judged;
    await until(
      async () => {
        const now = (await store().state(NAME))?.judgedAt;
        if (now !== last) {
          seen += 1;
          last = now;
        }
        return seen >= periods;
      },
      `${periods} more judgements`,
      90_000,
    );
    expect(alerts().map((a) => a.text)).toHaveLength(count);
  }

  beforeAll(async () => {
    lab = await labUp(3, { name: NAME });
    const base = await loadConfig(lab.configPath);
    config = WarrenConfig.parse({
      ...base,
      // The lab is one bridge away: a host that does not answer in 2 s is cut off.
      ssh: { ...base.ssh, connectTimeoutMs: 2000 },
      watch: { periodSeconds: PERIOD_S, readTimeoutSeconds: 6, maintenanceMaxSeconds: 600 },
      slack: { channels: [CHANNEL], users: { [OPERATOR]: ['operator'], [VIEWER]: ['viewer'] } },
    });
    const ops = await startHarness(config, { attempts: 2, backoffMs: 500 });
    try {
      const created = await ops.create(NAME);
      expect(created.final, JSON.stringify(created.final.error)).toMatchObject({ state: 'completed' });
    } finally {
      await ops.close();
    }
    slack = await startSlackHarness({ config });
    watcher = await startWatcher();
    watchQueue = openWatchQueue(redis, slack.prefix);
  }, 300_000);

  afterAll(async () => {
    process.stdout.write(`\nwatch timings (period ${PERIOD_S} s):\n  ${timings.join('\n  ')}\n`);
    await watcher?.close();
    await watchQueue?.close();
    await slack?.close();
    redis.disconnect();
    await lab?.down();
  }, 120_000);

  it('watch: a viewer is refused, an operator starts it; a healthy cluster posts nothing', async () => {
    const refused = await slack.driver.slashCommand({ text: `watch ${NAME}`, user: VIEWER, channel: CHANNEL });
    expect(JSON.stringify(refused.json)).toMatch(/operator/);
    const reply = await slack.driver.slashCommand({ text: `watch ${NAME}`, user: OPERATOR, channel: CHANNEL });
    expect(reply.status).toBe(200);
    await slack.emulator.waitFor(
      () => slack.emulator.responsesTo(reply.responseUrl).find((r) => /Watching/.test(JSON.stringify(r.body))),
      'the watch confirmation',
      10_000,
    );
    const schedulers = await watchQueue.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.every])).toEqual([[`watch-${NAME}`, PERIOD_S * 1000]]);
    await until(async () => (await store().state(NAME))?.reading === 'full', 'a first reading', 30_000);
    await nothingRepeated(0, 2);
    expect((await store().state(NAME))?.gauges).toMatchObject({ nodesRunning: 3, nodesExpected: 3, alarms: 0 });
  }, 60_000);

  it('a memory alarm: one alert, nothing more while it holds, the recovery in its thread', async () => {
    const raised = Date.now();
    expect((await lab.exec(2, 'rabbitmqctl set_vm_memory_high_watermark 0.0001 </dev/null')).code).toBe(0);
    const alert = await nextAlert(1, 'memory alarm alert', raised);
    expect(alert.text).toMatch(`${NAME}: memory alarm on rabbit@${NAME}2`);
    expect(JSON.stringify(alert.blocks)).toContain('/rabbit status');
    await nothingRepeated(1);
    const cleared = Date.now();
    expect((await lab.exec(2, 'rabbitmqctl set_vm_memory_high_watermark 0.4 </dev/null')).code).toBe(0);
    const recovery = await recoveryOf(alert, 'memory alarm recovery', cleared);
    expect(recovery.text).toMatch(/recovered: memory alarm/);
    await nothingRepeated(1, 2);
    expect(replies(alert)).toHaveLength(1);
  }, 120_000);

  it('a crashed host: one alert, kept across a worker and a bot restart, one recovery after boot', async () => {
    const crashed = Date.now();
    await lab.crash(3);
    const alert = await nextAlert(2, 'crash alert', crashed);
    expect(alert.text).toMatch(`${NAME}: rabbit@${NAME}3 is down`);
    await watcher.close();
    await slack.restartBot();
    watcher = await startWatcher();
    await nothingRepeated(2);
    const booted = Date.now();
    await lab.boot(3);
    const recovery = await recoveryOf(alert, 'crash recovery', booted);
    expect(recovery.text).toMatch(`recovered: rabbit@${NAME}3 is down`);
    await nothingRepeated(2, 2);
  }, 180_000);

  it('a silent link cut (isolate): one alert, none repeated, the recovery after heal', async () => {
    const cut = Date.now();
    await lab.isolate(3);
    let alert: EmulatedMessage;
    try {
      alert = await nextAlert(3, 'isolation alert', cut);
      expect(alert.text).toMatch(`${NAME}: rabbit@${NAME}3 is down`);
      expect(JSON.stringify(alert.blocks)).toMatch(/does not answer SSH|not running/);
      await nothingRepeated(3, 2);
    } finally {
      await lab.heal(3);
    }
    const healed = Date.now();
    const recovery = await recoveryOf(alert, 'isolation recovery', healed);
    expect(recovery.text).toMatch(/recovered/);
  }, 180_000);

  it('/metrics gauges, /rabbit watches, then unwatch removes the scheduler', async () => {
    const registry = new Registry();
    addWatchGauges(registry, () => store().states());
    const text = await registry.metrics();
    expect(text).toContain(`warren_watch_nodes_running{cluster="${NAME}"} 3`);
    expect(text).toContain(`warren_watch_alarms{cluster="${NAME}"} 0`);
    expect(text).toContain(`warren_watch_open_faults{cluster="${NAME}"} 0`);
    const listed = await slack.driver.slashCommand({ text: 'watches', user: VIEWER, channel: CHANNEL });
    await slack.emulator.waitFor(
      () => slack.emulator.responsesTo(listed.responseUrl).find((r) => JSON.stringify(r.body).includes('3/3 running')),
      'the watches list',
      10_000,
    );
    const gone = await slack.driver.slashCommand({ text: `unwatch ${NAME}`, user: OPERATOR, channel: CHANNEL });
    await slack.emulator.waitFor(
      () => slack.emulator.responsesTo(gone.responseUrl).find((r) => /Stopped watching/.test(JSON.stringify(r.body))),
      'the unwatch confirmation',
      10_000,
    );
    expect(await watchQueue.getJobSchedulers()).toEqual([]);
    expect(await store().record(NAME)).toBeUndefined();
  }, 60_000);
});
