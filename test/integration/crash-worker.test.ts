import { afterEach, describe, expect, it } from 'vitest';
import { createCluster } from '../../jobs/create-cluster.js';
import { loadConfig } from '../../src/config/load.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import { JobData } from '../../src/operations/schema.js';
import type { JobEvent, ProgressEvent } from '../../src/operations/progress.js';
import { connectRedis } from '../../src/queue/redis.js';
import { readClusterStatus } from '../../src/status/read-cluster-status.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { CHANNEL, OPERATOR, startSlackHarness } from '../../tools/slack-emulator/harness.js';
import type { SlackHarness } from '../../tools/slack-emulator/harness.js';
import { spawnWorkerProcess } from './harness.js';
import type { LoggedCommand, WorkerProcess } from './harness.js';

/*
 * A real worker process SIGKILLed during each step of a cluster create in turn; a second worker
 * process finishes the same job. Each case gets a fresh lab and a fresh queue prefix. The create is
 * asked for from Slack (the real bot, against the emulator), so each case also checks what the
 * operator sees: the card ends completed and nothing in its thread is posted twice.
 *
 * The kill point is chosen from the first worker's own debug log: "command X finished on host H"
 * means the step's next command is in flight (or about to be sent) when the worker dies.
 *
 * Not covered: a kill during rabbit:install. The lab's hosts share the machine's dpkg, where
 * rabbitmq-server is already installed, so install is always skipped here: making it do work would
 * mean removing the package for every host at once (and apt needs the network).
 */

const onHost = (host: string, pattern: RegExp) => (r: LoggedCommand) => r.host === host && pattern.test(r.command);
const succeeded = (host: string, pattern: RegExp) => (r: LoggedCommand) => onHost(host, pattern)(r) && r.code === 0;

interface CrashCase {
  step: string;
  /** True on the logged command after which the worker is killed. */
  killAfter: (last: LoggedCommand, all: readonly LoggedCommand[]) => boolean;
  /** Wait this long after that command before the kill, so the next command is surely running. */
  delayMs: number;
}

const cases: CrashCase[] = [
  // The seed's cookie was just read: the live switches on lab2 and lab3 start now.
  { step: 'cookie (live switch on lab2)', killAfter: onHost('lab1', /base64 -w0 \S*\.erlang\.cookie/), delayMs: 300 },
  // stop_app done: join_cluster runs on the node.
  { step: 'join of lab2', killAfter: succeeded('lab2', /stop_app/), delayMs: 0 },
  { step: 'join of lab3', killAfter: succeeded('lab3', /stop_app/), delayMs: 0 },
  // join_cluster done: lab3's app is stopped, start_app runs.
  { step: 'join of lab3 (before start_app)', killAfter: succeeded('lab3', /join_cluster/), delayMs: 0 },
  // The replication check read the seed: the policy (or queue type) is being set.
  {
    step: 'replication',
    killAfter: (last, all) =>
      onHost('lab1', /list_policies|list_vhosts/)(last) && all.some(succeeded('lab3', /join_cluster/)),
    delayMs: 0,
  },
  // Replication set: verify's cluster_status is in flight.
  {
    step: 'verify',
    killAfter: succeeded('lab1', /set_policy|set_default_queue_type|update_vhost_metadata/),
    delayMs: 200,
  },
];

interface NodeStatus {
  running_nodes: string[];
  disk_nodes: string[];
}

const NODES = ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'];

async function beamPids(lab: Lab): Promise<string[]> {
  return Promise.all([1, 2, 3].map(async (i) => (await lab.exec(i, 'pgrep -x beam.smp')).stdout.trim()));
}

describe('a worker SIGKILLed during a cluster create', () => {
  let lab: Lab | undefined;
  let slack: SlackHarness | undefined;
  const workers: WorkerProcess[] = [];
  const redis = connectRedis();

  afterEach(async () => {
    for (const w of workers.splice(0)) w.child.kill('SIGKILL');
    await slack?.close();
    slack = undefined;
    await lab?.down();
    lab = undefined;
  }, 120_000);

  it.each(cases)(
    'during $step: another worker finishes the job, nothing joined or ' +
      'restarted twice, the card ends completed with nothing posted twice',
    async ({ killAfter, delayMs }) => {
      lab = await labUp(3);
      const labConfig = await loadConfig(lab.configPath);
      slack = await startSlackHarness({
        config: {
          ...labConfig,
          slack: { ...labConfig.slack, channels: [CHANNEL], users: { [OPERATOR]: ['operator'] } },
        },
        readClusterStatus,
      });
      const { prefix, emulator } = slack;
      const pidsBefore = await beamPids(lab);
      const configPath = lab.configPath;

      let killedAt: LoggedCommand | undefined;
      const first = spawnWorkerProcess(configPath, prefix, (last, all) => {
        if (killedAt || !killAfter(last, all)) return;
        killedAt = last;
        setTimeout(() => {
          first.child.kill('SIGKILL');
          workers.push(spawnWorkerProcess(configPath, prefix));
        }, delayMs);
      });
      workers.push(first);

      expect((await slack.driver.slashCommand({ text: 'cluster create lab', user: OPERATOR })).status).toBe(200);
      const card = await emulator.waitFor(
        () => emulator.channelMessages(CHANNEL).find((m) => m.text.startsWith('cluster.create lab')),
        'the job card',
        30_000,
      );
      const jobId = await jobOfCard(slack, card.ts);
      const { final, events } = await waitForEnd(jobId);

      const second = workers[1];
      expect(killedAt, 'the first worker reached the kill point').toBeDefined();
      expect(second, 'a second worker was started').toBeDefined();
      expect(final, [...first.output, ...(second?.output ?? [])].join('').slice(-4000)).toMatchObject({
        type: 'job',
        state: 'completed',
      });
      // The second worker really took over: the job started twice, and completed once.
      expect(events.filter((e) => e.type === 'job' && e.state === 'started').length).toBeGreaterThanOrEqual(2);
      expect(events.filter((e) => e.type === 'job' && e.state === 'completed')).toHaveLength(1);
      // A changing step finished on a host once (the read-only gates and start run on every attempt).
      const done = events.flatMap((e) =>
        e.type === 'step' && e.state === 'done' && e.host && !createCluster.alwaysRun.has(e.step)
          ? [`${e.step}@${e.host}`]
          : [],
      );
      expect(
        done.filter((d, i) => done.indexOf(d) !== i),
        'finished twice',
      ).toEqual([]);

      const ran = [...first.commands, ...(second?.commands ?? [])];
      for (const host of ['lab2', 'lab3']) {
        expect(
          ran.filter(succeeded(host, /join_cluster/)).length,
          `join_cluster succeeded on ${host}`,
        ).toBeLessThanOrEqual(1);
      }
      // The live cookie switch needs no restart: nothing stopped a VM, and every VM is the one from before.
      expect(ran.filter((r) => /rabbitmqctl -q shutdown/.test(r.command))).toEqual([]);
      expect(await beamPids(lab)).toEqual(pidsBefore);

      for (const i of [1, 2, 3]) {
        const status = JSON.parse(
          (await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null')).stdout,
        ) as NodeStatus;
        expect([...status.running_nodes].sort()).toEqual(NODES);
        expect([...status.disk_nodes].sort()).toEqual(NODES);
      }

      // What the operator saw: the card ends completed with every step finished, once; the thread ends
      // with one status card and repeats nothing, although two workers each reported the job.
      await emulator.waitFor(
        () => emulator.threadReplies(CHANNEL, card.ts).some((m) => m.text === 'lab is healthy'),
        'the status card in the thread',
        60_000,
      );
      await slack.bot.reporter.idle();
      const cardNow = emulator.message(CHANNEL, card.ts);
      expect(cardNow?.text).toMatch(/^cluster\.create lab: completed/);
      const steps = /\((\d+)\/(\d+) steps\)/.exec(cardNow?.text ?? '');
      expect(steps?.[1]).toBe(steps?.[2]);
      expect(JSON.stringify(cardNow?.blocks)).not.toMatch(/:(arrows_counterclockwise|white_circle|x):/);
      const thread = emulator.threadReplies(CHANNEL, card.ts).map((m) => m.text);
      expect(
        thread.filter((t, i) => thread.indexOf(t) !== i),
        'posted twice',
      ).toEqual([]);
      expect(thread.filter((t) => t === 'lab is healthy')).toHaveLength(1);
    },
    300_000,
  );

  /** The job the bot queued for a card (its data carries the card's ts). */
  async function jobOfCard(harness: SlackHarness, cardTs: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      for (const job of await harness.queue.getJobs()) {
        const data = JobData.safeParse(job.data);
        if (job.id && data.success && data.data.origin.kind === 'slack' && data.data.origin.cardTs === cardTs)
          return job.id;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no job for card ${cardTs}`);
  }

  /** Follows the job's event stream until its final event. */
  async function waitForEnd(jobId: string): Promise<{ final: JobEvent; events: ProgressEvent[] }> {
    const events: ProgressEvent[] = [];
    let last = '0';
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      for (const stored of await readEvents(redis, slack!.prefix, jobId, last, { blockMs: 1000 })) {
        last = stored.id;
        events.push(stored.event);
        if (isFinalEvent(stored.event)) return { final: stored.event as JobEvent, events };
      }
    }
    throw new Error(`job ${jobId} did not end within 240 s`);
  }
});
