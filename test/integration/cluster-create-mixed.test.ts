/**
 * Mixed RabbitMQ versions are refused before anything changes: a lab of one 4.0.5 (trixie), one
 * 4.3.6 (forky) and one 3.10.8 host (the machine's own packages: Debian 12), and clusters drawn
 * from it that RabbitMQ cannot form. Asserted from the commands that ran (none that changes a
 * node) and from the nodes themselves (cookies, standalone). Needs root.
 * Run: flock /tmp/warren-labtest.lock npx vitest run test/integration/cluster-create-mixed.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { WarrenConfig } from '../../src/config/schema.js';
import { labUp } from '../../tools/lab/lab.js';
import type { Lab } from '../../tools/lab/lab.js';
import { MUTATING, startHarness } from './harness.js';
import type { Harness } from './harness.js';

describe('cluster create refuses mixed versions at preflight (4.0.5, 4.3.6, 3.10.8 hosts)', () => {
  let lab: Lab;
  let harness: Harness;
  let cookies: string[];

  beforeAll(async () => {
    lab = await labUp(3, { name: 'mx', releases: ['trixie', 'forky', 'machine'] });
    const config = await loadConfig(lab.configPath);
    const cluster = (name: string, nodes: string[]) => ({ ...config.clusters[0], name, nodes, seed: nodes[0] });
    const mixed: WarrenConfig = {
      ...config,
      clusters: [
        cluster('mxa', ['mx1', 'mx3']), // 4.0 seed, 3.10 joiner
        cluster('mxb', ['mx3', 'mx1']), // 3.10 seed, 4.0 joiner
        cluster('mxc', ['mx1', 'mx2']), // 4.0 seed, 4.3 joiner: would leave a ghost in the 4.0 node
        cluster('mxd', ['mx2', 'mx1', 'mx3']), // 4.3 seed, 4.0 and 3.10 joiners
      ],
    };
    harness = await startHarness(mixed);
    cookies = await Promise.all([1, 2, 3].map((i) => lab.readCookie(i)));
  }, 900_000);

  afterAll(async () => {
    await harness?.close();
    await lab?.down();
  }, 120_000);

  it.each([
    [
      'mxa',
      'mx3',
      /the seed mx1 \(rabbit@mx1\) runs RabbitMQ 4\.0\.5 with Mnesia; mx3 \(rabbit@mx3\) runs RabbitMQ 3\.10\.8 with Mnesia\. RabbitMQ 3\.x and 4\.x/,
    ],
    [
      'mxb',
      'mx1',
      /the seed mx3 \(rabbit@mx3\) runs RabbitMQ 3\.10\.8 with Mnesia; mx1 \(rabbit@mx1\) runs RabbitMQ 4\.0\.5 with Mnesia\. RabbitMQ 3\.x and 4\.x/,
    ],
    [
      'mxc',
      'mx2',
      /the seed mx1 \(rabbit@mx1\) runs RabbitMQ 4\.0\.5 with Mnesia; mx2 \(rabbit@mx2\) runs RabbitMQ 4\.3\.6 with Khepri\. .*leaves a ghost member/,
    ],
    [
      'mxd',
      'mx1',
      /the seed mx2 \(rabbit@mx2\) runs RabbitMQ 4\.3\.6 with Khepri; mx1 \(rabbit@mx1\) runs RabbitMQ 4\.0\.5 with Mnesia; mx3 \(rabbit@mx3\) runs RabbitMQ 3\.10\.8 with Mnesia\./,
    ],
  ])(
    '%s: refused naming %s, before any command that changes a node',
    async (name, host, message) => {
      harness.commands.length = 0;
      const { final } = await harness.create(name);
      expect(final.state).toBe('failed');
      expect(final.attempt).toBe(1); // not retried: waiting does not make versions match
      expect(final.error).toMatchObject({ code: 'preflight.incompatible_nodes', step: 'rabbit:compatibility', host });
      expect(final.error?.message).toMatch(message);
      expect(final.error?.message).toMatch(/Nothing was changed\.$/);
      expect(final.error?.hint).toMatch(/^Install RabbitMQ \d+\.\d+\.x \(the seed's series\) on /);
      expect(harness.commands.length).toBeGreaterThan(0);
      expect(harness.commands.filter((c) => MUTATING.test(c.command))).toEqual([]);
    },
    120_000,
  );

  it('left every node as it was: own cookie, standalone, running', async () => {
    expect(await Promise.all([1, 2, 3].map((i) => lab.readCookie(i)))).toEqual(cookies);
    for (const i of [1, 2, 3]) {
      const r = await lab.exec(i, 'rabbitmqctl cluster_status --formatter json </dev/null');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ disk_nodes: [`rabbit@mx${i}`], running_nodes: [`rabbit@mx${i}`] });
    }
  }, 60_000);
});
