import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createCluster } from '../../jobs/create-cluster.js';
import { enqueueOperation } from '../../src/queue/enqueue.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import type { JobEvent, ProgressEvent } from '../../src/queue/schema.js';
import { openOperationsQueue } from '../../src/queue/queue.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { connectRedis } from '../../src/queue/redis.js';
import { labUp } from '../lab/lab.js';
import type { Lab } from '../lab/lab.js';
import { spawnWorkerProcess } from './harness.js';
import type { LoggedCommand, WorkerProcess } from './harness.js';

/*
 * A real worker process SIGKILLed during each step of a cluster create in turn; a second worker
 * process finishes the same job. Each case gets a fresh lab and a fresh queue prefix.
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
  { step: 'cookie (live switch on lab2)', killAfter: onHost('lab1', /^base64 -w0/), delayMs: 300 },
  // stop_app done: join_cluster runs on the node.
  { step: 'join of lab2', killAfter: succeeded('lab2', /stop_app/), delayMs: 0 },
  { step: 'join of lab3', killAfter: succeeded('lab3', /stop_app/), delayMs: 0 },
  // join_cluster done: lab3's app is stopped, start_app runs.
  { step: 'join of lab3 (before start_app)', killAfter: succeeded('lab3', /join_cluster/), delayMs: 0 },
  // The replication check read the seed: the policy (or queue type) is being set.
  {
    step: 'replication',
    killAfter: (last, all) => onHost('lab1', /list_policies|list_vhosts/)(last) && all.some(succeeded('lab3', /join_cluster/)),
    delayMs: 0,
  },
  // Replication set: verify's cluster_status is in flight.
  { step: 'verify', killAfter: succeeded('lab1', /set_policy|set_default_queue_type|update_vhost_metadata/), delayMs: 200 },
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
  let queue: OperationsQueue | undefined;
  const workers: WorkerProcess[] = [];
  const redis = connectRedis();

  afterEach(async () => {
    for (const w of workers.splice(0)) w.child.kill('SIGKILL');
    await queue?.obliterate({ force: true });
    await queue?.close();
    queue = undefined;
    await lab?.down();
    lab = undefined;
  }, 120_000);

  it.each(cases)('during $step: another worker finishes the job, nothing joined or restarted twice', async ({ killAfter, delayMs }) => {
    lab = await labUp(3);
    const prefix = `crash-${randomUUID().slice(0, 8)}`;
    queue = openOperationsQueue(redis, prefix, { attempts: 3, backoffMs: 500 });
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

    const queued = await enqueueOperation(queue, redis, {
      operation: 'cluster.create',
      cluster: 'lab',
      origin: { kind: 'cli', user: 'test' },
      requestedAt: new Date().toISOString(),
    });
    if (queued.status !== 'queued') throw new Error('cluster busy');
    const { final, events } = await waitForEnd(queued.jobId);

    const second = workers[1];
    expect(killedAt, 'the first worker reached the kill point').toBeDefined();
    expect(second, 'a second worker was started').toBeDefined();
    expect(final, [...first.output, ...(second?.output ?? [])].join('').slice(-4000)).toMatchObject({ type: 'job', state: 'completed' });
    // The second worker really took over: the job started twice, and completed once.
    expect(events.filter((e) => e.type === 'job' && e.state === 'started').length).toBeGreaterThanOrEqual(2);
    expect(events.filter((e) => e.type === 'job' && e.state === 'completed')).toHaveLength(1);
    // A changing step finished on a host once (the read-only gates and start run on every attempt).
    const done = events.flatMap((e) => (e.type === 'step' && e.state === 'done' && e.host && !createCluster.alwaysRun.has(e.step) ? [`${e.step}@${e.host}`] : []));
    expect(done.filter((d, i) => done.indexOf(d) !== i), 'finished twice').toEqual([]);

    const ran = [...first.commands, ...(second?.commands ?? [])];
    for (const host of ['lab2', 'lab3']) {
      expect(ran.filter(succeeded(host, /join_cluster/)).length, `join_cluster succeeded on ${host}`).toBeLessThanOrEqual(1);
    }
    // The live cookie switch needs no restart: nothing stopped a VM, and every VM is the one from before.
    expect(ran.filter((r) => /rabbitmqctl -q shutdown/.test(r.command))).toEqual([]);
    expect(await beamPids(lab)).toEqual(pidsBefore);

    for (const i of [1, 2, 3]) {
      const status = JSON.parse((await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null')).stdout) as NodeStatus;
      expect([...status.running_nodes].sort()).toEqual(NODES);
      expect([...status.disk_nodes].sort()).toEqual(NODES);
    }
  }, 300_000);

  /** Follows the job's event stream until its final event. */
  async function waitForEnd(jobId: string): Promise<{ final: JobEvent; events: ProgressEvent[] }> {
    const events: ProgressEvent[] = [];
    let last = '0';
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      for (const stored of await readEvents(redis, jobId, last, { blockMs: 1000 })) {
        last = stored.id;
        events.push(stored.event);
        if (isFinalEvent(stored.event)) return { final: stored.event as JobEvent, events };
      }
    }
    throw new Error(`job ${jobId} did not end within 240 s`);
  }
});
