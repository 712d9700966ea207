import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { readEvents } from '../../src/queue/events.js';
import { connectRedis } from '../../src/queue/redis.js';
import type { JobEvent } from '../../src/operations/progress.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { startHarness } from './harness.js';
import type { Harness } from './harness.js';

/*
 * A lab host cut off mid-join: its sshd (listener and sessions) killed as its join starts. The
 * job retries as designed, then fails naming the host; once sshd is back, a new create completes.
 *
 * sshd is killed rather than the link taken down (`lab.isolate`): on a silent partition every
 * rabbitmqctl call that touches the host blocks ~60 s (net_ticktime), which would make this case
 * minutes long without proving more about warren's error path.
 */
describe('a lab host cut off in the middle of its join', () => {
  let lab: Lab;
  let harness: Harness;
  const reader = connectRedis();

  beforeAll(async () => {
    lab = await labUp(3);
    harness = await startHarness(await loadConfig(lab.configPath), { attempts: 2, backoffMs: 500 });
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
    reader.disconnect();
    await lab?.down();
  }, 120_000);

  it('fails naming lab3 and the join, and a later create completes the cluster', async () => {
    const queued = await harness.enqueue('lab');
    if (queued.status !== 'queued') throw new Error('cluster busy');

    const jobEvents: JobEvent[] = [];
    let cut = false;
    let last = '0';
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline && !jobEvents.some((e) => e.state === 'failed' || e.state === 'completed')) {
      for (const { id, event } of await readEvents(reader, harness.prefix, queued.jobId, last, { blockMs: 1000 })) {
        last = id;
        if (event.type === 'job') jobEvents.push(event);
        if (
          !cut &&
          event.type === 'step' &&
          event.step === 'rabbit:join' &&
          event.host === 'lab3' &&
          event.state === 'running'
        ) {
          await lab.stopSshd(3);
          cut = true;
        }
      }
    }
    expect(cut).toBe(true);

    // The attempt cut off in the join names the host and the step, and is retried.
    const firstEnd = jobEvents.find((e) => e.state === 'retrying' || e.state === 'failed');
    expect(firstEnd).toMatchObject({
      state: 'retrying',
      error: { host: 'lab3', step: 'rabbit:join', retryable: true },
    });
    // The retry cannot reach lab3 either: the job fails, naming lab3 and the SSH failure.
    const final = jobEvents.at(-1);
    expect(final).toMatchObject({
      state: 'failed',
      error: { host: 'lab3', code: expect.stringMatching(/^ssh\./) as unknown },
    });

    await lab.startSshd(3);
    const again = await harness.create('lab');
    expect(again.final).toMatchObject({ type: 'job', state: 'completed' });
    for (const i of [1, 2, 3]) {
      const status = JSON.parse(
        (await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null')).stdout,
      ) as { running_nodes: string[]; disk_nodes: string[] };
      expect([...status.running_nodes].sort()).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3']);
      expect([...status.disk_nodes].sort()).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3']);
    }
    // lab3 joined once: the first join either never ran or is recognised, not repeated into a reset.
    expect(
      harness.commands.filter((c) => c.host === 'lab3' && /join_cluster/.test(c.command) && c.code === 0).length,
    ).toBeLessThanOrEqual(1);
  }, 300_000);
});
