/**
 * The watch's ticks on real Redis and BullMQ, without a lab: two workers share one cluster's job
 * scheduler and never read it at the same time (the period is shorter than a reading), asking to
 * watch twice leaves one scheduler, and the judged state with its alerts survives the workers.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { WarrenConfig } from '../../src/config/schema.js';
import { connectRedis } from '../../src/queue/redis.js';
import { WatchStore, openWatchQueue, startWatchWorker, watchPortsOf } from '../../src/queue/watch.js';
import { requestWatch } from '../../src/requests/watch.js';
import type { ClusterHealth } from '../../src/rabbit/cluster-status.js';
import { watchTick } from '../../jobs/watch.js';
import { CHANNEL, healthyCluster, testConfig } from '../../tools/slack-emulator/harness.js';

const prefix = `test-watch-${randomUUID().slice(0, 8)}`;
const redis = connectRedis();
const config = WarrenConfig.parse({
  ...testConfig(),
  watch: { periodSeconds: 2, readTimeoutSeconds: 5, maintenanceMaxSeconds: 600 },
});

afterAll(async () => {
  const queue = openWatchQueue(redis, prefix);
  await queue.obliterate({ force: true });
  await queue.close();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
});

describe('watch ticks on BullMQ (real Redis)', () => {
  it('two workers, a reading longer than the period: one reading at a time; one alert, then held', async () => {
    const queue = openWatchQueue(redis, prefix);
    const store = new WatchStore(redis, prefix);
    const ports = watchPortsOf(store, queue, config);
    let reading = 0;
    let most = 0;
    let readings = 0;
    const down: ClusterHealth = {
      ...healthyCluster(),
      headline: 'degraded',
      nodes: healthyCluster().nodes.map((n) => (n.host === 'mq3' ? { ...n, running: false } : n)),
      problems: ['rabbit@mq3 is stopped'],
    };
    // 3 s per reading, with a 2 s period: the scheduler's next tick comes while one still reads.
    const readHealth = async () => {
      reading += 1;
      most = Math.max(most, reading);
      readings += 1;
      await new Promise((r) => setTimeout(r, 3000));
      reading -= 1;
      return down;
    };
    const workers = await Promise.all(
      [1, 2].map(() =>
        startWatchWorker({ config, connection: redis, prefix, tick: watchTick, readHealth, concurrency: 2 }),
      ),
    );
    try {
      const first = await requestWatch(ports, { cluster: 'rmq-lab', channel: CHANNEL, requestedBy: 'cli:test' });
      const again = await requestWatch(ports, { cluster: 'rmq-lab', channel: CHANNEL, requestedBy: 'cli:test' });
      expect([first.kind, again.kind]).toEqual(['watching', 'watching']);
      expect((await queue.getJobSchedulers()).map((s) => s.key)).toEqual(['watch-rmq-lab']);
      const deadline = Date.now() + 30_000;
      while (readings < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(readings).toBeGreaterThanOrEqual(3);
      expect(most).toBe(1);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
    // Three readings of the same fault: one alert in the stream; the state names it open.
    const { events } = await store.readAlerts('0');
    expect(events.map((e) => [e.event.type, e.event.fault.key])).toEqual([['fault', 'node:rabbit@mq3']]);
    expect(Object.keys((await store.state('rmq-lab'))?.faults ?? {})).toEqual(['node:rabbit@mq3']);
    await ports.unschedule('rmq-lab');
    await queue.close();
  }, 60_000);

  it('refuses a channel the bot does not post in, and an unknown cluster', async () => {
    const queue = openWatchQueue(redis, prefix);
    const ports = watchPortsOf(new WatchStore(redis, prefix), queue, config);
    expect(await requestWatch(ports, { cluster: 'rmq-lab', channel: 'C0NOTOURS', requestedBy: 'U1' })).toMatchObject({
      kind: 'refused',
      reason: 'warren does not post in channel C0NOTOURS',
    });
    expect(await requestWatch(ports, { cluster: 'nope', channel: CHANNEL, requestedBy: 'U1' })).toMatchObject({
      kind: 'refused',
      reason: 'unknown cluster "nope"',
    });
    await queue.close();
  });
});
