/**
 * node add / reset / remove and cluster teardown on real RabbitMQ 4.3.6 nodes (Debian forky, Khepri),
 * through the real CLI and worker: quorum queues declared before each change have exactly the
 * cluster's nodes as members afterwards; with 2 of 3 nodes stopped the gates refuse remove and add
 * before anything changes; a forget the minority accepts with exit 0 is not done until a majority
 * confirms it. Needs root and the lab's forky tree.
 * Run: flock /tmp/warren-labtest.lock npx vitest run test/integration/maintenance-43.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCluster } from '../../src/config/load.js';
import { MembershipStore } from '../../src/state/membership.js';
import { SshSessionPool } from '../../src/ssh/session.js';
import { forgetNode } from '../../src/steps/forget-node.js';
import { declareStep } from '../../src/steps/step.js';
import { stepContext } from '../support/step-context.js';
import {
  changesSince,
  declareQuorumQueue,
  everyQueueOn,
  quorumMembersOn,
  sorted,
  statusOn,
  upMaintenanceLab,
} from './maintenance-4x.js';
import type { MaintenanceLab } from './maintenance-4x.js';

const NAME = 'mk';

describe(
  'maintenance on RabbitMQ 4.3.6 (Khepri): quorum members follow, gates ' + 'and confirmations need a majority',
  () => {
    let m: MaintenanceLab;
    const nodes = (...i: number[]) => i.map((k) => m.node(k));

    beforeAll(async () => {
      m = await upMaintenanceLab(NAME, 'forky');
      const created = await m.harness.create(NAME);
      expect(created.final.state).toBe('completed');
      expect((await m.lab.exec(1, 'rabbitmqctl -q add_vhost v2 </dev/null')).code).toBe(0);
      await declareQuorumQueue(m.lab, 1, '/', 'qq1');
      await declareQuorumQueue(m.lab, 1, '/', 'qq2');
      await declareQuorumQueue(m.lab, 1, 'v2', 'qq3');
      expect(await quorumMembersOn(m.lab, 1)).toEqual(everyQueueOn(nodes(1, 2, 3)));
    }, 300_000);

    afterAll(async () => {
      await m?.close();
    }, 120_000);

    it('node add: the new node gets a replica of every quorum queue (grow)', async () => {
      const from = m.harness.commands.length;
      const result = await m.warren('node', 'add', NAME, `${NAME}4`, '--yes');
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(sorted((await statusOn(m.lab, 1)).running_nodes)).toEqual(nodes(1, 2, 3, 4));
      expect(await quorumMembersOn(m.lab, 2)).toEqual(everyQueueOn(nodes(1, 2, 3, 4)));
      expect(changesSince(m.harness, from)).toContain(
        `${NAME}1: rabbitmq-queues -q grow rabbit@${NAME}4 all </dev/null`,
      );
    }, 280_000);

    it(
      'node reset: the node leaves every quorum queue (shrink refuses it ' +
        'with 69; delete_member per queue does it)',
      async () => {
        const from = m.harness.commands.length;
        const result = await m.warren('node', 'reset', NAME, `${NAME}4`, '--yes');
        expect(result.code, result.stdout + result.stderr).toBe(0);
        expect((await statusOn(m.lab, 4)).disk_nodes).toEqual(nodes(4));
        expect(await quorumMembersOn(m.lab, 1)).toEqual(everyQueueOn(nodes(1, 2, 3)));
        const shrink = m.harness.commands.slice(from).find((c) => c.command.startsWith('rabbitmq-queues -q shrink'));
        expect(shrink?.code).toBe(69);
        expect(changesSince(m.harness, from).filter((c) => c.includes('delete_member'))).toHaveLength(3);
      },
      280_000,
    );

    it('create again joins the reset node back, with replicas', async () => {
      const created = await m.harness.create(NAME);
      expect(created.final.state).toBe('completed');
      expect(await quorumMembersOn(m.lab, 1)).toEqual(everyQueueOn(nodes(1, 2, 3, 4)));
    }, 280_000);

    it('node remove: the node is forgotten and leaves every quorum queue; it is left stopped', async () => {
      const result = await m.warren('node', 'remove', NAME, `${NAME}4`, '--yes');
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(sorted((await statusOn(m.lab, 2)).disk_nodes)).toEqual(nodes(1, 2, 3));
      expect(await quorumMembersOn(m.lab, 2)).toEqual(everyQueueOn(nodes(1, 2, 3)));
      expect((await m.lab.exec(4, 'pgrep -x beam.smp')).code).toBe(1);
    }, 280_000);

    it(
      'with 2 of 3 nodes stopped, node remove and node add are refused by ' + 'the gates before any changing command',
      async () => {
        for (const i of [2, 3])
          expect((await m.lab.exec(i, 'rabbitmqctl -q shutdown </dev/null', { timeoutMs: 90_000 })).code).toBe(0);
        const from = m.harness.commands.length;
        const remove = await m.warren('node', 'remove', NAME, `${NAME}3`, '--yes');
        expect(remove.code).toBe(1);
        expect(remove.stdout).toContain('✗ cluster.minority');
        const add = await m.warren('node', 'add', NAME, `${NAME}4`, '--yes');
        expect(add.code).toBe(1);
        expect(add.stdout).toContain('✗ cluster.minority');
        expect(add.stdout).toContain('only 1 of 3 node(s) run and answer');
        // The CLI judged the gates over its own connections and enqueued nothing: the worker ran no command at all.
        expect(m.harness.commands.slice(from)).toEqual([]);
      },
      200_000,
    );

    it('a forget the minority accepts with exit 0 is not done until a majority confirms it', async () => {
      // The step itself, as the job would run it (the gates above keep the job from getting here).
      const membership = await new MembershipStore(m.harness.redis, m.harness.prefix).read(NAME);
      const cluster = resolveCluster(m.config, NAME, membership);
      const pool = new SshSessionPool(cluster.hosts, m.config.ssh);
      try {
        const target = cluster.hosts.find((h) => h.name === `${NAME}3`)!;
        const { ctx } = stepContext(cluster, pool, { target });
        const started = Date.now();
        await expect(declareStep(forgetNode).execute(ctx)).rejects.toMatchObject({
          code: 'membership.unconfirmed',
          retryable: true,
        });
        console.log(`forget in a minority: unconfirmed after ${Math.round((Date.now() - started) / 1000)} s`);
        // Its peer already lists it gone: cluster_status agrees with the exit code, the store does not.
        expect(sorted((await statusOn(m.lab, 1)).disk_nodes)).toEqual(nodes(1, 2));
        expect((await m.lab.exec(2, 'service rabbitmq-server start </dev/null', { timeoutMs: 150_000 })).code).toBe(0);
        expect(
          (await m.lab.exec(2, 'rabbitmqctl -q await_startup --timeout 120 </dev/null', { timeoutMs: 150_000 })).code,
        ).toBe(0);
        const confirmed = await declareStep(forgetNode).execute(ctx);
        expect(confirmed?.detail).toBe(`rabbit@${NAME}3 forgotten: confirmed by a majority`);
      } finally {
        await pool.close();
      }
      // The forget removed mk3's replicas too (measured on 4.3.6).
      expect(await quorumMembersOn(m.lab, 1)).toEqual(everyQueueOn(nodes(1, 2)));
    }, 280_000);

    it(
      'node remove of the forgotten node finishes it (offline wipe), and ' + 'teardown leaves blank single nodes',
      async () => {
        const removed = await m.warren('node', 'remove', NAME, `${NAME}3`, '--yes');
        expect(removed.code, removed.stdout + removed.stderr).toBe(0);
        expect(
          (await m.lab.exec(3, `ls -A /var/lib/rabbitmq/mnesia/rabbit@${NAME}3 2>/dev/null | wc -l`)).stdout.trim(),
        ).toBe('0');
        const torn = await m.warren('cluster', 'teardown', NAME, '--yes');
        expect(torn.code, torn.stdout + torn.stderr).toBe(0);
        for (const i of [1, 2]) expect((await statusOn(m.lab, i)).disk_nodes).toEqual(nodes(i));
        expect(await quorumMembersOn(m.lab, 1)).toEqual({});
      },
      280_000,
    );
  },
);
