import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { readEvents } from '../../src/queue/events.js';
import { ClusterCreateResult } from '../../src/operations/schema.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { MUTATING, startHarness } from './harness.js';
import type { Harness } from './harness.js';

const run = promisify(execFile);
const CLI = 'dist/src/cli/bin.js';

/** cluster_status seen from one lab host, read through the backdoor (not through warren). */
async function statusOn(lab: Lab, i: number): Promise<{ running_nodes: string[]; disk_nodes: string[] }> {
  const result = await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as { running_nodes: string[]; disk_nodes: string[] };
}

describe('cluster create on the lab (real sshd, real RabbitMQ, real Redis)', () => {
  let lab: Lab;
  let config: WarrenConfig;
  let harness: Harness;
  const expectedNodes = ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'];

  beforeAll(async () => {
    if (!existsSync(CLI)) await run('npm', ['run', '-s', 'build']);
    lab = await labUp(3);
    config = await loadConfig(lab.configPath);
    harness = await startHarness(config);
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
    await lab?.down();
  }, 120_000);

  it('refuses a host whose key is not the pinned one before any command runs', async () => {
    const lab1Key = config.hosts[0].hostKey;
    const forged: WarrenConfig = {
      ...config,
      hosts: config.hosts.map((h) => (h.name === 'lab2' ? { ...h, hostKey: lab1Key } : h)),
    };
    const other = await startHarness(forged, { attempts: 3 });
    try {
      const { final } = await other.create('lab');
      expect(final.state).toBe('failed');
      expect(final.attempt).toBe(1); // deterministic: not retried
      expect(final.error?.code).toBe('ssh.host_key_mismatch');
      expect(final.error?.host).toBe('lab2');
      expect(final.error?.message).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
      expect(other.commands).toEqual([]);
    } finally {
      await other.close();
    }
  }, 60_000);

  it('fails naming the host and step when a node has no sshd, and touches no other node', async () => {
    const cookiesBefore = await Promise.all([1, 2].map((i) => lab.readCookie(i)));
    await lab.stopSshd(3);
    try {
      const { final, events } = await harness.create('lab');
      expect(final.state).toBe('failed');
      expect(final.error?.host).toBe('lab3');
      expect(final.error?.step).toBe('rabbit:preflight');
      expect(final.error?.code).toMatch(/^ssh\.connect_(failed|timeout)$/);
      // Connection refused may be a reboot: it is retried (attempts: 2 here), then fails.
      expect(events.some((e) => e.event.type === 'job' && e.event.state === 'retrying')).toBe(true);
      expect(harness.commands.filter((c) => MUTATING.test(c.command))).toEqual([]);
      expect(await Promise.all([1, 2].map((i) => lab.readCookie(i)))).toEqual(cookiesBefore);
    } finally {
      await lab.startSshd(3);
      harness.commands.length = 0;
    }
  }, 120_000);

  it('refuses a node holding queues before its cookie changes (join would wipe it)', async () => {
    const declare = await lab.exec(
      3,
      `rabbitmqctl eval 'rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, ` +
        `queue, <<"orders">>), true, false, [], none, <<"test">>).' </dev/null`,
    );
    expect(declare.code).toBe(0);
    const cookieBefore = await lab.readCookie(3);
    try {
      const { final } = await harness.create('lab');
      expect(final.state).toBe('failed');
      expect(final.attempt).toBe(1);
      expect(final.error?.code).toBe('join.would_wipe');
      expect(final.error?.host).toBe('lab3');
      expect(final.error?.step).toBe('rabbit:membership');
      expect(final.error?.hint).toMatch(/--allow-wipe/);
      expect(harness.commands.filter((c) => MUTATING.test(c.command))).toEqual([]);
      expect(await lab.readCookie(3)).toBe(cookieBefore);
    } finally {
      expect((await lab.exec(3, 'rabbitmqctl -q delete_queue orders </dev/null')).code).toBe(0);
      harness.commands.length = 0;
    }
  }, 120_000);

  it('forms a 3-node cluster: every node lists 3 running disk nodes, policy set, cookies equal', async () => {
    const { final } = await harness.create('lab');
    expect(final.error).toBeUndefined();
    expect(final.state).toBe('completed');
    const result = ClusterCreateResult.parse(final.result);
    expect(result.health.headline).toBe('healthy');
    expect(result.replication.mode).toBe('ha-all');
    expect(result.warnings.join(' ')).toMatch(/deprecated/);
    expect(result.transportUrl).toBe(
      'rabbit://USER:PASS@10.213.0.11:5672,USER:PASS@10.213.0.12:5672,USER:PASS@10.213.0.13:5672/',
    );

    for (const i of [1, 2, 3]) {
      const status = await statusOn(lab, i);
      expect([...status.running_nodes].sort()).toEqual(expectedNodes);
      expect([...status.disk_nodes].sort()).toEqual(expectedNodes);
    }
    const policies = await lab.exec(2, 'rabbitmqctl -q list_policies --formatter json </dev/null');
    expect(JSON.parse(policies.stdout)).toEqual([
      expect.objectContaining({ name: 'ha-all', pattern: '^(?!amq\\.).*', definition: '{"ha-mode":"all"}' }),
    ]);
    const cookies = await Promise.all([1, 2, 3].map((i) => lab.readCookie(i)));
    expect(new Set(cookies).size).toBe(1);
    const mode = await lab.exec(3, 'stat -c "%U:%G %a" /var/lib/rabbitmq/.erlang.cookie');
    expect(mode.stdout.trim()).toBe('rabbitmq:rabbitmq 400');

    // Nodes about to join take the cookie live: no restart at all; joins one at a time; seed untouched.
    const liveSwitches = harness.commands.filter((c) => /erlang:set_cookie/.test(c.command)).map((c) => c.host);
    expect(liveSwitches.sort()).toEqual(['lab2', 'lab3']);
    expect(harness.commands.filter((c) => /shutdown|service rabbitmq-server start/.test(c.command))).toEqual([]);
    const joins = harness.commands.filter((c) => /join_cluster/.test(c.command)).map((c) => c.host);
    expect(joins).toEqual(['lab2', 'lab3']);
    expect(
      harness.commands.filter((c) => c.host === 'lab1' && MUTATING.test(c.command) && !/set_policy/.test(c.command)),
    ).toEqual([]);

    // The worker's metrics saw it: jobs by outcome (the refusals above, then this one), step and command timings.
    const text = await harness.metrics.registry.metrics();
    expect(text).toContain('warren_jobs_total{operation="cluster.create",outcome="completed"} 1');
    expect(text).toMatch(/warren_jobs_total\{operation="cluster.create",outcome="failed"\} [1-9]/);
    expect(text).toContain(
      'warren_step_duration_seconds_count{operation="cluster.create",step="rabbit:join",state="done"} 1',
    );
    expect(text).toMatch(/warren_ssh_command_duration_seconds_count\{host="lab2",outcome="ok"\} [1-9]/);
  }, 240_000);

  it('runs again through the CLI on the formed cluster: no restart, no stop_app, no join', async () => {
    harness.commands.length = 0;
    const cli = await run(
      'node',
      [CLI, '--config', lab.configPath, '--prefix', harness.prefix, 'cluster', 'create', 'lab'],
      {
        env: { ...process.env, LOG_LEVEL: 'debug' },
      },
    );
    expect(cli.stdout).toMatch(/cluster lab is healthy/);
    expect(cli.stdout).toMatch(/transport_url: rabbit:\/\/USER:PASS@/);
    expect(harness.commands.length).toBeGreaterThan(0);
    expect(harness.commands.filter((c) => MUTATING.test(c.command))).toEqual([]);

    const status = await run('node', [CLI, '--config', lab.configPath, 'status', 'lab', '--json']);
    const health = JSON.parse(status.stdout) as { headline: string; nodes: { running: boolean }[] };
    expect(health.headline).toBe('healthy');
    expect(health.nodes.filter((n) => n.running)).toHaveLength(3);

    // The cookie appears nowhere: logs, job data, results, events, CLI output.
    const cookie = await lab.readCookie(1);
    expect(cookie.length).toBeGreaterThan(8);
    const cookieBase64 = Buffer.from(cookie).toString('base64').slice(0, 40);
    const jobs = await harness.queue.getJobs(['completed', 'failed']);
    const everything = [
      harness.logs.join(''),
      cli.stdout,
      cli.stderr,
      status.stdout,
      JSON.stringify(jobs.map((j) => ({ data: j.data, result: j.returnvalue, reason: j.failedReason }))),
      JSON.stringify(await Promise.all(jobs.map((j) => readEvents(harness.redis, harness.prefix, String(j.id))))),
      JSON.stringify(harness.commands),
    ].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    expect(everything).not.toContain(cookie);
    expect(everything).not.toContain(cookieBase64);
  }, 180_000);
});
