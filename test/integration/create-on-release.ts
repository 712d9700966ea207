/**
 * The create + re-create + status proof for one Debian release's RabbitMQ, on a lab of its own
 * (real sshd, real RabbitMQ from the release's own tree, real Redis). Each version's test file
 * calls it once (cluster-create-40.test.ts, cluster-create-43.test.ts), each with its own lab
 * name so they could run side by side. Everything is asserted from the nodes themselves.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ClusterCreateResult } from '../../src/operations/schema.js';
import { ClusterHealth } from '../../src/rabbit/cluster-status.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab, LabRelease } from '../../tools/lab/lab.js';
import { MUTATING, startHarness } from './harness.js';
import type { Harness } from './harness.js';

const run = promisify(execFile);
const CLI = 'dist/src/cli/bin.js';

export interface ReleaseUnderTest {
  release: LabRelease;
  /** lab.sh LAB_NAME: hosts NAME1..NAME3, cluster NAME. */
  labName: string;
  rabbitmqVersion: string;
  metadataStore: 'mnesia' | 'khepri';
}

/** `warren status NAME` (--json): exit 0 when healthy, 1 otherwise; stdout either way. */
async function status(lab: Lab, json: boolean): Promise<{ code: number; stdout: string }> {
  const args = [CLI, '--config', lab.configPath, 'status', lab.name, ...(json ? ['--json'] : [])];
  return run('node', args).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '' }),
  );
}

async function health(lab: Lab): Promise<{ code: number; health: ClusterHealth }> {
  const r = await status(lab, true);
  return { code: r.code, health: ClusterHealth.parse(JSON.parse(r.stdout)) };
}

/** One lab host's own view, through the backdoor (not through warren). */
async function onNode<T>(lab: Lab, i: number, cmd: string): Promise<T> {
  const r = await lab.exec(i, `${cmd} </dev/null`);
  expect(r.code, `${cmd} on host ${i}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as T;
}

export function describeCreateOn({ release, labName, rabbitmqVersion, metadataStore }: ReleaseUnderTest): void {
  describe(`cluster create and status on RabbitMQ ${rabbitmqVersion} (${release} lab ${labName})`, () => {
    let lab: Lab;
    let harness: Harness;
    const nodes = [1, 2, 3].map((i) => `rabbit@${labName}${i}`);

    beforeAll(async () => {
      if (!existsSync(CLI)) await run('npm', ['run', '-s', 'build']);
      lab = await labUp(3, { name: labName, releases: [release] });
      harness = await startHarness(await loadConfig(lab.configPath));
    }, 900_000);

    afterAll(async () => {
      await harness?.close();
      await lab?.down();
    }, 120_000);

    it(`forms a 3-node cluster: quorum as every vhost's default, no mirroring, ${metadataStore} metadata`, async () => {
      const started = Date.now();
      const { final } = await harness.create(labName);
      expect(final.error).toBeUndefined();
      expect(final.state).toBe('completed');
      const result = ClusterCreateResult.parse(final.result);
      expect(result.health.headline).toBe('healthy');
      expect(result.replication.mode).toBe('quorum');
      expect(result.metadataStore).toBe(metadataStore);
      expect(result.warnings).toEqual([]);
      console.log(`create on ${rabbitmqVersion}: ${Date.now() - started} ms`);

      // every node's own view: three running disk nodes
      for (const i of [1, 2, 3]) {
        const status = await onNode<{ running_nodes: string[]; disk_nodes: string[] }>(
          lab,
          i,
          'rabbitmqctl cluster_status --formatter json',
        );
        expect([...status.running_nodes].sort()).toEqual(nodes);
        expect([...status.disk_nodes].sort()).toEqual(nodes);
      }
      // replication: the vhost default, never a policy (4.x rejects ha-mode with exit 69)
      expect(await onNode(lab, 2, 'rabbitmqctl -q list_vhosts --formatter json name default_queue_type')).toEqual([
        { name: '/', default_queue_type: 'quorum' },
      ]);
      expect(await onNode(lab, 3, 'rabbitmqctl -q list_policies --formatter json')).toEqual([]);
      expect(harness.commands.filter((c) => /set_policy|ha-mode/.test(c.command))).toEqual([]);
      // the metadata store, asked of the nodes
      for (const i of [1, 2, 3]) {
        const flags = await onNode<{ name: string; state: string }[]>(
          lab,
          i,
          'rabbitmqctl -q list_feature_flags --formatter json name state',
        );
        expect(flags.find((f) => f.name === 'khepri_db')?.state === 'enabled' ? 'khepri' : 'mnesia').toBe(
          metadataStore,
        );
      }
      // one cookie, 0400, owned by the host's own rabbitmq user (whatever its uid in this release)
      const cookies = await Promise.all([1, 2, 3].map((i) => lab.readCookie(i)));
      expect(new Set(cookies).size).toBe(1);
      for (const i of [1, 2, 3])
        expect((await lab.exec(i, 'stat -c "%U:%G %a" /var/lib/rabbitmq/.erlang.cookie')).stdout).toBe(
          'rabbitmq:rabbitmq 400\n',
        );
      // the joiners took the cookie live (erlang:set_cookie, then the file): no stop, no restart
      expect(
        harness.commands
          .filter((c) => /erlang:set_cookie/.test(c.command))
          .map((c) => c.host)
          .sort(),
      ).toEqual([`${labName}2`, `${labName}3`]);
      expect(harness.commands.filter((c) => /shutdown|service rabbitmq-server start/.test(c.command))).toEqual([]);
      // joins one at a time, the seed never stopped or joined
      expect(harness.commands.filter((c) => /join_cluster/.test(c.command)).map((c) => c.host)).toEqual([
        `${labName}2`,
        `${labName}3`,
      ]);
      expect(
        harness.commands.filter(
          (c) => c.host === `${labName}1` && MUTATING.test(c.command) && !/update_vhost_metadata/.test(c.command),
        ),
      ).toEqual([]);
    }, 240_000);

    it('runs again through the CLI on the formed cluster and changes nothing', async () => {
      harness.commands.length = 0;
      const cli = await run('node', [
        CLI,
        '--config',
        lab.configPath,
        '--prefix',
        harness.prefix,
        'cluster',
        'create',
        labName,
      ]);
      expect(cli.stdout).toMatch(new RegExp(`cluster ${labName} is healthy`));
      expect(cli.stdout).toMatch(`metadata store: ${metadataStore === 'khepri' ? 'Khepri' : 'Mnesia'}`);
      expect(harness.commands.length).toBeGreaterThan(0);
      expect(harness.commands.filter((c) => MUTATING.test(c.command))).toEqual([]);
    }, 180_000);

    it('status reads every field, the metadata store and the feature flags not enabled', async () => {
      const { code, health: read } = await health(lab);
      expect(code).toBe(0);
      expect(read).toMatchObject({
        cluster: labName,
        headline: 'healthy',
        readFrom: `${labName}1`,
        problems: [],
        expected: nodes,
        metadataStore: metadataStore === 'khepri' ? 'Khepri' : 'Mnesia',
        featureFlagsNotEnabled: [],
        underReplicatedQueues: [],
      });
      expect(read.nodes).toEqual(
        nodes.map((node, k) => ({
          node,
          host: `${labName}${k + 1}`,
          running: true,
          rabbitmqVersion,
          erlangVersion: expect.stringMatching(/^\d+\.\d+/) as unknown,
          alarms: [],
          maintenance: 'not under maintenance',
          partitionedFrom: [],
        })),
      );
    }, 60_000);

    it('status names a quorum queue with fewer online replicas than nodes, and the stopped node', async () => {
      // declared on the seed: the vhost default makes it a quorum queue with a replica on every node
      const declare = await lab.exec(
        1,
        `rabbitmqctl eval 'rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, ` +
          `queue, <<"orders">>), true, false, [], none, <<"test">>).' </dev/null`,
      );
      expect(declare.code, declare.stderr).toBe(0);
      expect(await onNode(lab, 2, 'rabbitmqctl -q list_queues --formatter json name type')).toEqual([
        { name: 'orders', type: 'quorum' },
      ]);
      await lab.crash(3);
      try {
        const { code, health: read } = await health(lab);
        expect(code).toBe(1);
        expect(read.headline).toBe('degraded');
        expect(read.underReplicatedQueues).toEqual([
          { vhost: '/', name: 'orders', online: nodes.slice(0, 2), missing: [nodes[2]] },
        ]);
        expect(read.problems).toEqual([
          `${nodes[2]} is stopped`,
          `quorum queue 'orders' in vhost '/' is under-replicated: 2 of 3 replicas online (none on ${nodes[2]})`,
        ]);
        expect((await status(lab, false)).stdout).toMatch(/! quorum queue 'orders' in vhost '\/' is under-replicated/);
      } finally {
        await lab.boot(3);
      }
      // back by itself (its data was kept): healthy again, every replica online
      const deadline = Date.now() + 60_000;
      let after = await health(lab);
      while (after.code !== 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        after = await health(lab);
      }
      expect(after.health.problems).toEqual([]);
      expect(after.health.underReplicatedQueues).toEqual([]);
    }, 240_000);
  });
}
