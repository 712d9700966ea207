import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { quote } from '../../src/ssh/quote.js';
import { membershipKey } from '../../src/state/membership.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab, LabRelease } from '../../tools/lab/lab.js';
import { startHarness } from './harness.js';
import type { Harness } from './harness.js';

const exec = promisify(execFile);
const CLI = 'dist/src/cli/bin.js';

/**
 * Every command that changes a node or its membership (the harness's MUTATING, plus reset, forget and the quorum
 * replicas).
 */
export const CHANGES =
  /apt-get|shutdown|base64 -d|service rabbitmq-server start|systemctl start|stop_app|join_cluster|start_app|set_policy|update_vhost_metadata|rabbitmqctl -q reset|forget_cluster_node|rabbitmq-queues|rm -rf/;

export const sorted = (list: readonly string[]): string[] => [...list].sort();

/**
 * One 4-host lab of a release for a whole file: cluster NAME = NAME1..NAME3, NAME4 an inventory host only; a worker on
 * real Redis.
 */
export interface MaintenanceLab {
  lab: Lab;
  config: WarrenConfig;
  harness: Harness;
  /** `warren <args>` against this lab's config and queue prefix; never throws. */
  warren(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Node name of host i. */
  node(i: number): string;
  close(): Promise<void>;
}

export async function upMaintenanceLab(name: string, release: LabRelease): Promise<MaintenanceLab> {
  await exec('npm', ['run', '-s', 'build']);
  const lab = await labUp(4, { name, releases: [release] });
  const labConfig = await loadConfig(lab.configPath);
  const nodes = [1, 2, 3].map((i) => `${name}${i}`);
  const raw = {
    ...labConfig,
    clusters: labConfig.clusters.map((c) => (c.name === name ? { ...c, nodes, seed: nodes[0] } : c)),
  };
  const configPath = join(lab.dir, 'maintenance.yaml');
  await writeFile(configPath, stringify(raw));
  const config = await loadConfig(configPath);
  const harness = await startHarness(config);
  return {
    lab,
    config,
    harness,
    node: (i) => `rabbit@${name}${i}`,
    async warren(...args) {
      try {
        const { stdout, stderr } = await exec(
          'node',
          [CLI, '--config', configPath, '--prefix', harness.prefix, ...args],
          { timeout: 280_000, env: { ...process.env, LOG_LEVEL: 'warn' } },
        );
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    },
    async close() {
      await harness.redis.del(
        membershipKey(harness.prefix, name, 'added'),
        membershipKey(harness.prefix, name, 'removed'),
        `${harness.prefix}:audit`,
      );
      await harness.close();
      await lab.down();
    },
  };
}

/** cluster_status seen from one lab host through the backdoor (not through warren). */
export async function statusOn(lab: Lab, i: number): Promise<{ running_nodes: string[]; disk_nodes: string[] }> {
  const result = await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null', { timeoutMs: 90_000 });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { running_nodes: string[]; disk_nodes: string[] };
}

/**
 * Declares a durable quorum queue on host i (no rabbitmqadmin on 4.0: the broker's own declare, as in the prototype's
 * samples).
 */
export async function declareQuorumQueue(lab: Lab, i: number, vhost: string, queue: string): Promise<void> {
  const erl =
    `rabbit_amqqueue:declare(rabbit_misc:r(<<"${vhost}">>, queue, <<"` +
    `${queue}">>), true, false, [{<<"x-queue-type">>, longstr, ` +
    `<<"quorum">>}], none, <<"test">>).`;
  const result = await lab.exec(i, `rabbitmqctl -q eval ${quote(erl)} </dev/null`, { timeoutMs: 90_000 });
  expect(result.code, result.stderr).toBe(0);
}

/** `vhost/queue` -> sorted members of every quorum queue, read on host i with list_queues name type members. */
export async function quorumMembersOn(lab: Lab, i: number): Promise<Record<string, string[]>> {
  const vhosts = await lab.exec(i, 'rabbitmqctl -q list_vhosts --formatter json name </dev/null', {
    timeoutMs: 90_000,
  });
  expect(vhosts.code, vhosts.stderr).toBe(0);
  const members: Record<string, string[]> = {};
  for (const { name } of JSON.parse(vhosts.stdout) as { name: string }[]) {
    const listed = await lab.exec(
      i,
      `rabbitmqctl -q list_queues --vhost ${quote(name)} --formatter json name type members </dev/null`,
      { timeoutMs: 90_000 },
    );
    expect(listed.code, listed.stderr).toBe(0);
    for (const q of JSON.parse(listed.stdout) as { name: string; type: string; members: string[] | string }[]) {
      if (q.type === 'quorum') members[`${name}/${q.name}`] = sorted(Array.isArray(q.members) ? q.members : []);
    }
  }
  return members;
}

/** The quorum queues the tests declare before the first change: two in `/`, one in `v2`. */
export const QUEUES = ['//qq1', '//qq2', 'v2/qq3'];

/** Every declared quorum queue has exactly these members. */
export function everyQueueOn(nodes: readonly string[]): Record<string, string[]> {
  return Object.fromEntries(QUEUES.map((q) => [q, sorted(nodes)]));
}

/** The changing commands the worker ran since `from` (an index into harness.commands), as `host: command`. */
export function changesSince(harness: Harness, from: number): string[] {
  return harness.commands
    .slice(from)
    .filter((c) => CHANGES.test(c.command))
    .map((c) => `${c.host}: ${c.command}`);
}
