/**
 * `/rabbit watch` on real RabbitMQ 3.10.8, 4.0.5 and 4.3.6 clusters side by side (one lab `wa` of
 * seven hosts: a 3-node 3.10.8 cluster, 2-node 4.0.5 and 4.3.6 ones, each formed once by warren's own
 * create): the real bot (Slack emulator), the real watch worker ticking every 2 s through BullMQ's job
 * scheduler, real SSH. A memory alarm, a crashed host and a silent link cut, made on the three
 * clusters at once, each give exactly one alert per cluster and, once over, one recovery reply in
 * that alert's thread; nothing is repeated while the fault holds, nor after the worker and the bot
 * restart in the middle of one.
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
import type { Lab, LabRelease } from '../../tools/lab/lab.js';
import { watchTick } from '../../jobs/watch.js';
import { startHarness } from './harness.js';

const LAB = 'wa';
const PERIOD_S = 2;
/** Cluster -> its lab hosts (1-based): the last one is crashed and cut off, the second gets the alarm. */
const CLUSTERS: Record<string, { hosts: number[]; release: LabRelease; version: string }> = {
  wa310: { hosts: [1, 2, 3], release: 'machine', version: '3.10.8' },
  wa40: { hosts: [4, 5], release: 'trixie', version: '4.0.5' },
  wa43: { hosts: [6, 7], release: 'forky', version: '4.3.6' },
};
const NAMES = Object.keys(CLUSTERS);
const last = (name: string): number => CLUSTERS[name].hosts.at(-1)!;
const node = (i: number): string => `rabbit@${LAB}${i}`;

/** Polls an async probe until it holds. */
async function until(probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('watch on 3.10.8, 4.0.5 and 4.3.6 clusters (lab wa)', () => {
  let lab: Lab;
  let slack: SlackHarness;
  let config: WarrenConfig;
  let watcher: RunningWatchWorker;
  let watchQueue: ReturnType<typeof openWatchQueue>;
  const redis = connectRedis();
  const timings: string[] = [];

  const startWatcher = () =>
    startWatchWorker({ config, connection: redis, prefix: slack.prefix, tick: watchTick, concurrency: 3 });
  const alertsOf = (cluster: string): EmulatedMessage[] =>
    slack.emulator.channelMessages(CHANNEL).filter((m) => m.text.startsWith(`${cluster}:`));
  const replies = (alert: EmulatedMessage): EmulatedMessage[] => slack.emulator.threadReplies(CHANNEL, alert.ts);
  const store = () => new WatchStore(redis, slack.prefix);

  /** Waits for each cluster's `count`-th alert; records how long each took after the fault was made. */
  async function nextAlerts(count: number, what: string, since: number): Promise<Record<string, EmulatedMessage>> {
    const found = await Promise.all(
      NAMES.map(async (name) => {
        const alert = await slack.emulator.waitFor(() => alertsOf(name)[count - 1], `${what} on ${name}`, 90_000);
        timings.push(`${what} ${name}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
        return [name, alert] as const;
      }),
    );
    return Object.fromEntries(found);
  }

  async function recoveries(alerts: Record<string, EmulatedMessage>, what: string, since: number) {
    const found = await Promise.all(
      NAMES.map(async (name) => {
        const reply = await slack.emulator.waitFor(() => replies(alerts[name])[0], `${what} on ${name}`, 240_000);
        timings.push(`${what} ${name}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
        return [name, reply] as const;
      }),
    );
    return Object.fromEntries(found);
  }

  /** Each cluster is judged `periods` more times and still has exactly `count` alerts, each at most one reply. */
  async function nothingRepeated(count: number, periods = 1): Promise<void> {
    await Promise.all(
      NAMES.map(async (name) => {
        let seen = 0;
        let previous = (await store().state(name))?.judgedAt;
        await until(
          async () => {
            const now = (await store().state(name))?.judgedAt;
            if (now !== previous) {
              seen += 1;
              previous = now;
            }
            return seen >= periods;
          },
          `${periods} more judgements of ${name}`,
          120_000,
        );
      }),
    );
    for (const name of NAMES) {
      expect(
        alertsOf(name).map((a) => a.text),
        name,
      ).toHaveLength(count);
      for (const alert of alertsOf(name)) expect(replies(alert).length).toBeLessThanOrEqual(1);
    }
  }

  beforeAll(async () => {
    const releases = NAMES.flatMap((name) => CLUSTERS[name].hosts.map(() => CLUSTERS[name].release));
    lab = await labUp(releases.length, { name: LAB, releases });
    const base = await loadConfig(lab.configPath);
    config = WarrenConfig.parse({
      ...base,
      // The lab is one bridge away: a host that does not answer in 2 s is cut off.
      ssh: { ...base.ssh, connectTimeoutMs: 2000 },
      clusters: NAMES.map((name) => ({
        name,
        nodes: CLUSTERS[name].hosts.map((i) => `${LAB}${i}`),
        seed: `${LAB}${CLUSTERS[name].hosts[0]}`,
      })),
      watch: { periodSeconds: PERIOD_S, readTimeoutSeconds: 10, maintenanceMaxSeconds: 600 },
      slack: { channels: [CHANNEL], users: { [OPERATOR]: ['operator'], [VIEWER]: ['viewer'] } },
    });
    const ops = await startHarness(config, { attempts: 2, backoffMs: 500 });
    try {
      const created = await Promise.all(NAMES.map((name) => ops.create(name)));
      for (const { final } of created) expect(final.error).toBeUndefined();
    } finally {
      await ops.close();
    }
    slack = await startSlackHarness({ config });
    watcher = await startWatcher();
    watchQueue = openWatchQueue(redis, slack.prefix);
  }, 420_000);

  afterAll(async () => {
    process.stdout.write(`\nwatch timings (period ${PERIOD_S} s):\n  ${timings.join('\n  ')}\n`);
    await watcher?.close();
    await watchQueue?.close();
    await slack?.close();
    redis.disconnect();
    await lab?.down();
  }, 120_000);

  it('watch: a viewer is refused, an operator starts it; healthy clusters post nothing', async () => {
    const refused = await slack.driver.slashCommand({ text: `watch wa310`, user: VIEWER, channel: CHANNEL });
    expect(JSON.stringify(refused.json)).toMatch(/operator/);
    for (const name of NAMES) {
      const reply = await slack.driver.slashCommand({ text: `watch ${name}`, user: OPERATOR, channel: CHANNEL });
      await slack.emulator.waitFor(
        () => slack.emulator.responsesTo(reply.responseUrl).find((r) => /Watching/.test(JSON.stringify(r.body))),
        `the watch confirmation of ${name}`,
        10_000,
      );
    }
    const schedulers = await watchQueue.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.every]).sort()).toEqual(
      NAMES.map((name) => [`watch-${name}`, PERIOD_S * 1000]).sort(),
    );
    for (const name of NAMES)
      await until(async () => (await store().state(name))?.reading === 'full', `a first reading of ${name}`, 60_000);
    await nothingRepeated(0);
    for (const name of NAMES)
      expect((await store().state(name))?.gauges, name).toMatchObject({
        nodesRunning: CLUSTERS[name].hosts.length,
        nodesExpected: CLUSTERS[name].hosts.length,
        alarms: 0,
      });
  }, 150_000);

  it('a memory alarm: one alert, nothing more while it holds, the recovery in its thread', async () => {
    const raised = Date.now();
    const alarm = (i: number, ratio: string) =>
      lab.exec(i, `rabbitmqctl set_vm_memory_high_watermark ${ratio} </dev/null`);
    for (const r of await Promise.all(NAMES.map((name) => alarm(CLUSTERS[name].hosts[1], '0.0001'))))
      expect(r.code, r.stderr).toBe(0);
    const alerts = await nextAlerts(1, 'memory alarm alert', raised);
    for (const name of NAMES) {
      expect(alerts[name].text).toMatch(`${name}: memory alarm on ${node(CLUSTERS[name].hosts[1])}`);
      expect(JSON.stringify(alerts[name].blocks)).toContain('/rabbit status');
    }
    await nothingRepeated(1);
    const cleared = Date.now();
    for (const r of await Promise.all(NAMES.map((name) => alarm(CLUSTERS[name].hosts[1], '0.4'))))
      expect(r.code, r.stderr).toBe(0);
    const recovered = await recoveries(alerts, 'memory alarm recovery', cleared);
    for (const name of NAMES) expect(recovered[name].text).toMatch(/recovered: memory alarm/);
  }, 300_000);

  it('a crashed host: one alert, kept across a worker and a bot restart, one recovery after boot', async () => {
    const crashed = Date.now();
    await Promise.all(NAMES.map((name) => lab.crash(last(name))));
    const alerts = await nextAlerts(2, 'crash alert', crashed);
    for (const name of NAMES) expect(alerts[name].text).toMatch(`${name}: ${node(last(name))} is down`);
    await watcher.close();
    await slack.restartBot();
    watcher = await startWatcher();
    await nothingRepeated(2, 2);
    const booted = Date.now();
    await Promise.all(NAMES.map((name) => lab.boot(last(name))));
    const recovered = await recoveries(alerts, 'crash recovery', booted);
    for (const name of NAMES) expect(recovered[name].text).toMatch(`recovered: ${node(last(name))} is down`);
  }, 360_000);

  it('a silent link cut (isolate): one alert, none repeated, the recovery after heal', async () => {
    const cut = Date.now();
    await Promise.all(NAMES.map((name) => lab.isolate(last(name))));
    let alerts: Record<string, EmulatedMessage>;
    try {
      alerts = await nextAlerts(3, 'isolation alert', cut);
      for (const name of NAMES) {
        expect(alerts[name].text).toMatch(`${name}: ${node(last(name))} is down`);
        expect(JSON.stringify(alerts[name].blocks)).toMatch(/does not answer SSH|not running/);
      }
      await nothingRepeated(3);
    } finally {
      await Promise.all(NAMES.map((name) => lab.heal(last(name))));
    }
    const healed = Date.now();
    const recovered = await recoveries(alerts, 'isolation recovery', healed);
    for (const name of NAMES) expect(recovered[name].text).toMatch(/recovered/);
  }, 420_000);

  it('/metrics gauges, /rabbit watches, then unwatch removes the schedulers', async () => {
    // Every alert so far once, every recovery once: nothing came late or twice.
    await nothingRepeated(3);
    for (const name of NAMES) for (const alert of alertsOf(name)) expect(replies(alert), name).toHaveLength(1);
    const registry = new Registry();
    addWatchGauges(registry, () => store().states());
    const text = await registry.metrics();
    for (const name of NAMES) {
      expect(text).toContain(`warren_watch_nodes_running{cluster="${name}"} ${CLUSTERS[name].hosts.length}`);
      expect(text).toContain(`warren_watch_alarms{cluster="${name}"} 0`);
      expect(text).toContain(`warren_watch_open_faults{cluster="${name}"} 0`);
    }
    const listed = await slack.driver.slashCommand({ text: 'watches', user: VIEWER, channel: CHANNEL });
    await slack.emulator.waitFor(
      () => slack.emulator.responsesTo(listed.responseUrl).find((r) => JSON.stringify(r.body).includes('3/3 running')),
      'the watches list',
      10_000,
    );
    for (const name of NAMES) {
      const gone = await slack.driver.slashCommand({ text: `unwatch ${name}`, user: OPERATOR, channel: CHANNEL });
      await slack.emulator.waitFor(
        () => slack.emulator.responsesTo(gone.responseUrl).find((r) => /Stopped watching/.test(JSON.stringify(r.body))),
        `the unwatch confirmation of ${name}`,
        10_000,
      );
      expect(await store().record(name)).toBeUndefined();
    }
    expect(await watchQueue.getJobSchedulers()).toEqual([]);
  }, 60_000);
});
