/**
 * `warren cluster restart` on real RabbitMQ 3.10.8, 4.0.5 and 4.3.6: one lab of nine hosts (lab `rs`,
 * three per release), three 3-node clusters made by warren's own create, each with a quorum queue
 * under a running AMQP publisher (confirms) and consumer. The three rolls run at once on worker
 * processes; the worker is SIGKILLed in the middle of a node's restart and another one finishes
 * every roll. Each node must boot exactly once (its own log's boot lines and its VM's identity), no
 * confirmed message may be lost, no quorum queue may drop below a majority of online members. Then
 * a node that cannot start stops a roll with the nodes after it untouched and serving.
 * Needs root. Run: flock /tmp/warren-labslot-1.lock npx vitest run test/integration/cluster-restart.test.ts
 */
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { isFinalEvent, readEvents } from '../../src/queue/events.js';
import type { JobEvent } from '../../src/operations/progress.js';
import { connectRedis } from '../../src/queue/redis.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { spawnWorkerProcess, startHarness } from './harness.js';
import type { Harness, WorkerProcess } from './harness.js';

const exec = promisify(execFile);
const CLI = 'dist/src/cli/bin.js';
const NAME = 'rs';
/** Cluster -> its lab hosts (1-based, seed first) and the release they run. */
const CLUSTERS = {
  rsa: { hosts: [1, 2, 3], rabbitmq: '3.10.8' },
  rsb: { hosts: [4, 5, 6], rabbitmq: '4.0.5' },
  rsc: { hosts: [7, 8, 9], rabbitmq: '4.3.6' },
} as const;
type ClusterName = keyof typeof CLUSTERS;
const NAMES = Object.keys(CLUSTERS) as ClusterName[];
const QUEUE = 'roll-q';
const USER = 'roller';
const PASSWORD = randomUUID();

/** How one node's VM boots are counted: its own log's boot lines, and the VM's pid and start time. */
const BOOTS =
  "grep -c 'Starting RabbitMQ' /var/log/rabbitmq/rabbit@$(hostname).log; " +
  `for p in $(pgrep -u rabbitmq -x beam.smp); do echo "$p $(cut -d' ' -f22 /proc/$p/stat)"; done`;

interface Boot {
  count: number;
  vm: string;
}

/** A publisher with confirms and a consumer with acks on one quorum queue, reconnecting across the cluster's nodes. */
class Traffic {
  readonly confirmed = new Set<number>();
  readonly received = new Set<number>();
  private next = 0;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly addresses: string[]) {}

  start(): void {
    this.loops.push(this.publish(), this.consume());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async open(turn: number): Promise<ChannelModel> {
    const address = this.addresses[turn % this.addresses.length];
    return connect(`amqp://${USER}:${PASSWORD}@${address}:5672/`, { timeout: 3000 });
  }

  private async publish(): Promise<void> {
    for (let turn = 0; !this.stopped; turn++) {
      try {
        const model = await this.open(turn);
        model.on('error', () => undefined);
        const channel = await model.createConfirmChannel();
        channel.on('error', () => undefined);
        await channel.assertQueue(QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
        while (!this.stopped) {
          const n = this.next++;
          await new Promise<void>((resolve, reject) =>
            channel.sendToQueue(QUEUE, Buffer.from(String(n)), { persistent: true }, (error) =>
              error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
            ),
          );
          this.confirmed.add(n);
          await new Promise((r) => setTimeout(r, 50));
        }
        await model.close().catch(() => undefined);
      } catch {
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }

  private async consume(): Promise<void> {
    for (let turn = 1; !this.stopped; turn++) {
      try {
        const model = await this.open(turn);
        model.on('error', () => undefined);
        const closed = new Promise<void>((resolve) => model.on('close', () => resolve()));
        const channel = await model.createChannel();
        channel.on('error', () => undefined);
        await channel.assertQueue(QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
        await channel.prefetch(50);
        await channel.consume(QUEUE, (msg) => {
          if (!msg) return;
          this.received.add(Number(msg.content.toString()));
          channel.ack(msg);
        });
        // Until the node drops us, or the test has seen everything it waits for.
        while (!this.stopped) {
          const done = await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(r, 500, false))]);
          if (done) break;
        }
        if (this.stopped) await this.drain(model, closed);
      } catch {
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }

  /** After the publisher stopped: keep consuming until every confirmed message arrived (or 30 s passed). */
  private async drain(model: ChannelModel, closed: Promise<void>): Promise<void> {
    const end = Date.now() + 30_000;
    while (Date.now() < end && [...this.confirmed].some((n) => !this.received.has(n))) {
      if (await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(r, 200, false))])) return;
    }
    await model.close().catch(() => undefined);
  }
}

describe('cluster restart on 3.10.8, 4.0.5 and 4.3.6 clusters (lab rs)', () => {
  let lab: Lab;
  let harness: Harness;
  let configPath: string;
  const workers: WorkerProcess[] = [];
  const rollPrefix = `test-${randomUUID().slice(0, 8)}`;

  const warren = async (prefix: string, ...args: string[]) => {
    try {
      const { stdout, stderr } = await exec('node', [CLI, '--config', configPath, '--prefix', prefix, ...args], {
        timeout: 280_000,
        env: { ...process.env, LOG_LEVEL: 'warn' },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  const boots = async (i: number): Promise<Boot> => {
    const r = await lab.exec(i, BOOTS);
    const [count, vm = 'none'] = r.stdout.trim().split('\n');
    return { count: Number(count), vm };
  };
  const bootsOf = async (cluster: ClusterName): Promise<Boot[]> =>
    Promise.all(CLUSTERS[cluster].hosts.map((i) => boots(i)));

  async function followJob(prefix: string, jobId: string, deadlineMs = 270_000): Promise<JobEvent> {
    const reader = connectRedis();
    const end = Date.now() + deadlineMs;
    let last = '0';
    try {
      while (Date.now() < end) {
        for (const stored of await readEvents(reader, prefix, jobId, last, { blockMs: 2000 })) {
          last = stored.id;
          if (isFinalEvent(stored.event)) return stored.event as JobEvent;
        }
      }
      throw new Error(`job ${jobId} did not end within ${deadlineMs} ms`);
    } finally {
      reader.disconnect();
    }
  }

  /** The fewest online members any quorum queue of the cluster had, sampled from the first node that answers. */
  function sampleQuorum(cluster: ClusterName): { stop: () => Promise<number[]> } {
    const samples: number[] = [];
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        for (const i of CLUSTERS[cluster].hosts) {
          const r = await lab
            .exec(i, 'rabbitmqctl -q list_queues name type online --formatter json </dev/null', { timeoutMs: 20_000 })
            .catch(() => ({ code: -1, stdout: '', stderr: '' }));
          if (r.code !== 0) continue;
          const queues = JSON.parse(r.stdout) as { name: string; type: string; online: string[] }[];
          const qq = queues.find((q) => q.name === QUEUE);
          if (qq) samples.push(qq.online.length);
          break;
        }
        await new Promise((r) => setTimeout(r, 6000));
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return samples;
      },
    };
  }

  beforeAll(async () => {
    await exec('npm', ['run', '-s', 'build']);
    const releases = NAMES.flatMap((c) => CLUSTERS[c].hosts.map(() => c));
    lab = await labUp(9, {
      name: NAME,
      releases: releases.map((c) => (c === 'rsa' ? 'machine' : c === 'rsb' ? 'trixie' : 'forky')),
    });
    const labConfig = await loadConfig(lab.configPath);
    const clusters = NAMES.map((name) => ({
      name,
      nodes: CLUSTERS[name].hosts.map((i) => `${NAME}${i}`),
      seed: `${NAME}${CLUSTERS[name].hosts[0]}`,
      replication: 'none',
    }));
    configPath = join(lab.dir, 'cluster-restart.yaml');
    await writeFile(configPath, stringify({ ...labConfig, clusters }));
    harness = await startHarness(await loadConfig(configPath));
    const created = await Promise.all(NAMES.map((name) => harness.create(name)));
    for (const { final } of created) expect(final.error).toBeUndefined();
    // The lab's guest is loopback-only: a user of our own for the AMQP clients (users are cluster-wide).
    await Promise.all(
      NAMES.map(async (name) => {
        const seed = CLUSTERS[name].hosts[0];
        const r = await lab.exec(
          seed,
          `rabbitmqctl -q add_user ${USER} ${PASSWORD} </dev/null && ` +
            `rabbitmqctl -q set_permissions -p / ${USER} '.*' '.*' '.*' </dev/null`,
        );
        expect(r.code, r.stderr).toBe(0);
      }),
    );
  }, 420_000);

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await harness?.close();
    await lab?.down();
  }, 120_000);

  it('the dry run shows the per-node plan, the seed last, and runs nothing', async () => {
    const before = await bootsOf('rsa');
    const r = await warren(rollPrefix, 'cluster', 'restart', 'rsa', '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    const restarts = [...r.stdout.matchAll(/^ {2}(rs\d)\s+.*service rabbitmq-server restart/gm)].map((m) => m[1]);
    expect(restarts).toEqual(['rs2', 'rs3', 'rs1']);
    expect(r.stdout).toContain('rabbitmq-upgrade -q drain');
    expect(r.stdout).toMatch(/✓ cluster\.healthy|cluster\.healthy/);
    expect(await bootsOf('rsa')).toEqual(before);
  }, 60_000);

  it('rolls all three clusters under traffic, survives a SIGKILLed worker, restarts each node once', async () => {
    const addresses = (c: ClusterName) => CLUSTERS[c].hosts.map((i) => lab.hosts[i - 1].address);
    const traffic = Object.fromEntries(NAMES.map((c) => [c, new Traffic(addresses(c))])) as Record<
      ClusterName,
      Traffic
    >;
    for (const c of NAMES) traffic[c].start();
    // Traffic flows before the roll starts.
    const flowing = Date.now() + 30_000;
    while (NAMES.some((c) => traffic[c].received.size < 20) && Date.now() < flowing)
      await new Promise((r) => setTimeout(r, 250));
    for (const c of NAMES) expect(traffic[c].received.size, c).toBeGreaterThanOrEqual(20);
    const before = Object.fromEntries(
      await Promise.all(NAMES.map(async (c): Promise<[ClusterName, Boot[]]> => [c, await bootsOf(c)])),
    ) as Record<ClusterName, Boot[]>;
    const samplers = Object.fromEntries(NAMES.map((c) => [c, sampleQuorum(c)])) as Record<
      ClusterName,
      ReturnType<typeof sampleQuorum>
    >;

    // The first worker is killed 1.5 s into the restart command of rsa's second node (rs3, just drained).
    let killed = false;
    workers.push(
      spawnWorkerProcess(configPath, rollPrefix, (record) => {
        if (killed || record.host !== `${NAME}3` || !record.command.includes('rabbitmq-upgrade -q drain')) return;
        killed = true;
        setTimeout(() => {
          workers[0].child.kill('SIGKILL');
          workers.push(spawnWorkerProcess(configPath, rollPrefix));
        }, 1500);
      }),
    );
    const jobs = await Promise.all(
      NAMES.map(async (c) => {
        const r = await warren(rollPrefix, 'cluster', 'restart', c, '--yes', '--no-follow');
        expect(r.code, r.stderr).toBe(0);
        return r.stdout.trim().split('\n').pop()!;
      }),
    );
    const finals = await Promise.all(jobs.map((id) => followJob(rollPrefix, id, 400_000)));
    expect(killed).toBe(true);
    expect(workers).toHaveLength(2);
    for (const [k, final] of finals.entries()) {
      expect(final.error, `${NAMES[k]}: ${JSON.stringify(final.error)}`).toBeUndefined();
      expect(final.state).toBe('completed');
    }

    const minima = await Promise.all(NAMES.map((c) => samplers[c].stop()));
    for (const c of NAMES) await traffic[c].stop();
    for (const [k, c] of NAMES.entries()) {
      // Every node booted once: one more boot line in its own log, and another VM.
      const after = await bootsOf(c);
      after.forEach((boot, i) => {
        const was = before[c][i];
        expect(boot.count, `${c} host ${CLUSTERS[c].hosts[i]} boots`).toBe(was.count + 1);
        expect(boot.vm).not.toBe(was.vm);
        expect(boot.vm).not.toBe('none');
      });
      // No confirmed message lost; the queue never lost its majority (3 members: 2 online at least).
      const lost = [...traffic[c].confirmed].filter((n) => !traffic[c].received.has(n));
      expect(lost, `${c}: confirmed but never delivered`).toEqual([]);
      expect(traffic[c].confirmed.size, c).toBeGreaterThan(50);
      expect(minima[k].length, `${c} quorum samples`).toBeGreaterThan(2);
      expect(Math.min(...minima[k]), `${c} fewest online members`).toBeGreaterThanOrEqual(2);
      // And the nodes run the release they ran, every one back in service.
      const status = await warren(rollPrefix, 'status', c);
      expect(status.stdout).toContain(CLUSTERS[c].rabbitmq);
    }
    // The second worker resumed rsa at rs3: it restarted rs3 at most once (the boots above) and rs2 never.
    const second = workers[1].commands;
    expect(second.filter((r) => r.host === `${NAME}2` && /rabbitmq-server restart/.test(r.command))).toEqual([]);
  }, 420_000);

  it('a node that cannot start stops the roll: the nodes after it untouched and serving', async () => {
    // rs6 (rsb's second joiner) cannot start: a config it refuses, and an init script that gives up after 5 s.
    const broken = await lab.exec(
      6,
      "echo 'not a valid = = line' > /etc/rabbitmq/rabbitmq.conf && " +
        'echo RABBITMQ_STARTUP_TIMEOUT=5 >> /etc/default/rabbitmq-server',
    );
    expect(broken.code, broken.stderr).toBe(0);
    const before = await bootsOf('rsb');
    if (workers.length < 2) workers.push(spawnWorkerProcess(configPath, rollPrefix));
    const r = await warren(rollPrefix, 'cluster', 'restart', 'rsb', '--yes');
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('restart.node_down');
    expect(r.stdout + r.stderr).toMatch(/rs6: it did not come back after its restart/);
    const after = await bootsOf('rsb');
    expect(after[1].count).toBe(before[1].count + 1); // rs5 restarted, once
    expect(after[2].vm).toBe('none'); // rs6 down
    expect(after[0]).toEqual(before[0]); // the seed rs4 untouched
    for (const i of [4, 5]) {
      const running = await lab.exec(i, 'rabbitmq-diagnostics -q check_running </dev/null');
      expect(running.code, `rs${i} still serving`).toBe(0);
    }
    // Fixed and started again, the cluster is whole.
    const fixed = await lab.exec(
      6,
      'rm /etc/rabbitmq/rabbitmq.conf && sed -i /RABBITMQ_STARTUP_TIMEOUT=5/d /etc/default/rabbitmq-server && ' +
        'service rabbitmq-server start </dev/null',
      { timeoutMs: 120_000 },
    );
    expect(fixed.code, fixed.stderr).toBe(0);
  }, 150_000);
});
