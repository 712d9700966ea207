import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AuditLog } from '../../src/audit/store.js';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { checkSafetyGates } from '../../src/gates/check.js';
import { MembershipStore, membershipKey } from '../../src/state/membership.js';
import { readClusterStatus } from '../../src/status/read-cluster-status.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { MUTATING, startHarness } from './harness.js';
import type { Harness } from './harness.js';

const exec = promisify(execFile);
const CLI = 'dist/src/cli/bin.js';

/** cluster_status seen from one lab host through the backdoor (not through warren). */
async function statusOn(lab: Lab, i: number): Promise<{ running_nodes: string[]; disk_nodes: string[] }> {
  const result = await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null', { timeoutMs: 90_000 });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { running_nodes: string[]; disk_nodes: string[] };
}

const sorted = (list: string[]) => [...list].sort();

/**
 * One lab of 4 hosts for the whole file: cluster `lab` = lab1..lab3, lab4 an inventory host only.
 * The destructive operations go through the real CLI with --yes (gates, audit, enqueue, follow)
 * and run on a real worker; what they leave is read from the nodes themselves.
 */
describe('destructive operations on the lab (real sshd, RabbitMQ 3.10.8, Redis)', () => {
  let lab: Lab;
  let config: WarrenConfig;
  let configPath: string;
  let harness: Harness;

  /** `warren <args>` against this file's config and queue prefix; never throws, returns the exit code. */
  async function warren(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec(
        'node',
        [CLI, '--config', configPath, '--prefix', harness.prefix, ...args],
        { timeout: 240_000, env: { ...process.env, LOG_LEVEL: 'warn' } },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    await exec('npm', ['run', '-s', 'build']);
    lab = await labUp(4);
    const labConfig = await loadConfig(lab.configPath);
    const raw = {
      ...labConfig,
      clusters: labConfig.clusters.map((c) =>
        c.name === 'lab' ? { ...c, nodes: ['lab1', 'lab2', 'lab3'], seed: 'lab1' } : c,
      ),
    };
    configPath = join(lab.dir, 'maintenance.yaml');
    await writeFile(configPath, stringify(raw));
    config = await loadConfig(configPath);
    harness = await startHarness(config);
    const created = await harness.create('lab');
    expect(created.final.state).toBe('completed');
  }, 300_000);

  afterAll(async () => {
    if (harness)
      await harness.redis.del(
        membershipKey(harness.prefix, 'lab', 'added'),
        membershipKey(harness.prefix, 'lab', 'removed'),
        `${harness.prefix}:audit`,
      );
    await harness?.close();
    await lab?.down();
  }, 120_000);

  it('without --yes prints the plan and the gates, runs nothing, exits 2', async () => {
    const before = harness.commands.length;
    const result = await warren('node', 'reset', 'lab', 'lab3');
    expect(result.code).toBe(2);
    expect(result.stdout).toContain('rabbitmqctl -q reset </dev/null');
    expect(result.stdout).toContain('gates: ALLOWED');
    expect(result.stdout).toMatch(/--yes bypasses chat approval/);
    expect(harness.commands.length).toBe(before);
  }, 120_000);

  it('adds lab4: status then lists 4 running nodes', async () => {
    const result = await warren('node', 'add', 'lab', 'lab4', '--yes');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(sorted((await statusOn(lab, 1)).running_nodes)).toEqual([
      'rabbit@lab1',
      'rabbit@lab2',
      'rabbit@lab3',
      'rabbit@lab4',
    ]);
    const membership = await new MembershipStore(harness.redis, harness.prefix).read('lab');
    expect(membership).toEqual({ added: ['lab4'], removed: [] });
    const health = await readClusterStatus(config, 'lab', { membership });
    expect(health.headline).toBe('healthy');
    expect(health.nodes.filter((n) => n.running)).toHaveLength(4);
  }, 240_000);

  it('resets lab4: a blank single node, lab1-lab3 still clustered and healthy', async () => {
    const result = await warren('node', 'reset', 'lab', 'lab4', '--yes');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const own = await statusOn(lab, 4);
    expect(own.disk_nodes).toEqual(['rabbit@lab4']);
    expect(own.running_nodes).toEqual(['rabbit@lab4']);
    const vhosts = await lab.exec(4, 'rabbitmqctl -q list_vhosts --formatter json name </dev/null');
    expect(JSON.parse(vhosts.stdout)).toEqual([{ name: '/' }]);
    const rest = await statusOn(lab, 1);
    expect(sorted(rest.disk_nodes)).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3']);
    expect(sorted(rest.running_nodes)).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3']);
  }, 240_000);

  it('removes lab3: the survivors no longer list it, the state counts it out, it is left stopped', async () => {
    const result = await warren('node', 'remove', 'lab', 'lab3', '--yes');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    for (const i of [1, 2]) {
      const view = await statusOn(lab, i);
      expect(view.disk_nodes).not.toContain('rabbit@lab3');
      expect(sorted(view.running_nodes)).toEqual(['rabbit@lab1', 'rabbit@lab2']);
    }
    const membership = await new MembershipStore(harness.redis, harness.prefix).read('lab');
    expect(membership).toEqual({ added: ['lab4'], removed: ['lab3'] });
    expect((await lab.exec(3, 'pgrep -x beam.smp')).code).toBe(1);
    // lab4 counts as a member (added) but was reset: the status names it, expecting lab1, lab2, lab4.
    const health = await readClusterStatus(config, 'lab', { membership });
    expect(health.expected).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab4']);
    expect(health.problems).toEqual(['rabbit@lab4 is not a member of the cluster']);
  }, 240_000);

  it('refuses a reset of the last running node before anything runs', async () => {
    expect((await lab.exec(2, 'rabbitmqctl -q stop_app </dev/null')).code).toBe(0);
    const changedBefore = harness.commands.filter((c) => MUTATING.test(c.command)).length;
    const gates = await checkSafetyGates(
      config,
      { operation: 'node.reset', cluster: 'lab', node: 'lab1' },
      { membership: await new MembershipStore(harness.redis, harness.prefix).read('lab') },
    );
    expect(gates.allowed).toBe(false);
    expect(gates.checks.filter((c) => !c.ok).map((c) => c.id)).toEqual(['node.last_running_disk', 'cluster.minority']);
    const result = await warren('node', 'reset', 'lab', 'lab1', '--yes');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('✗ node.last_running_disk');
    expect(result.stdout).toContain('to make it possible: Start another node of lab');
    expect(harness.commands.filter((c) => MUTATING.test(c.command)).length).toBe(changedBefore);
    expect((await statusOn(lab, 1)).running_nodes).toEqual(['rabbit@lab1']);
    expect((await lab.exec(2, 'rabbitmqctl -q start_app </dev/null', { timeoutMs: 120_000 })).code).toBe(0);
  }, 240_000);

  it('tears the cluster down: every node a blank single node, the membership state cleared', async () => {
    const result = await warren('cluster', 'teardown', 'lab', '--yes');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    for (const i of [1, 2, 4]) {
      const own = await statusOn(lab, i);
      expect(own.disk_nodes).toEqual([`rabbit@lab${i}`]);
    }
    expect(await new MembershipStore(harness.redis, harness.prefix).read('lab')).toEqual({ added: [], removed: [] });
  }, 240_000);

  it('audited every request, refusal and result in order, with who', async () => {
    const entries = await new AuditLog(harness.redis, harness.prefix).latest({ cluster: 'lab', limit: 100 });
    const lines = entries.map(({ entry: e }) => `${e.event} ${e.operation}${e.node ? ` ${e.node}` : ''} ${e.via}`);
    expect(lines).toEqual([
      'requested node.add lab4 cli',
      'started node.add lab4 worker',
      'completed node.add lab4 worker',
      'requested node.reset lab4 cli',
      'started node.reset lab4 worker',
      'completed node.reset lab4 worker',
      'requested node.remove lab3 cli',
      'started node.remove lab3 worker',
      'completed node.remove lab3 worker',
      'refused node.reset lab1 cli',
      'requested cluster.teardown cli',
      'started cluster.teardown worker',
      'completed cluster.teardown worker',
    ]);
    const user = entries[0].entry.actor;
    expect(user).toMatch(/^cli:/);
    expect(entries.every((e) => e.entry.actor === user)).toBe(true);
    expect(entries[0].entry.detail).toBe('--yes: chat approval bypassed');
    expect(entries.filter((e) => e.entry.via === 'worker').every((e) => e.entry.jobId !== undefined)).toBe(true);
    const audit = await warren('audit', 'lab', '--limit', '3');
    expect(audit.code).toBe(0);
    expect(audit.stdout.trim().split('\n')).toHaveLength(3);
  }, 60_000);
});
