/**
 * node add / reset / remove and cluster teardown on real RabbitMQ 4.0.5 nodes (Debian trixie,
 * Mnesia), through the real CLI and worker: quorum queues declared before each change have
 * exactly the cluster's nodes as members afterwards. Needs root and the lab's trixie tree.
 * Run: flock /tmp/warren-labtest.lock npx vitest run test/integration/maintenance-40.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const NAME = 'mx';

describe('maintenance on RabbitMQ 4.0.5 (Mnesia): quorum queue members follow every membership change', () => {
  let m: MaintenanceLab;
  const nodes = (...i: number[]) => i.map((k) => m.node(k));

  beforeAll(async () => {
    m = await upMaintenanceLab(NAME, 'trixie');
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
    expect(changesSince(m.harness, from)).toContain(`${NAME}1: rabbitmq-queues -q grow rabbit@${NAME}4 all </dev/null`);
  }, 280_000);

  it('node reset: the reset node, left listed as a member, is shrunk away (shrink works on 4.0)', async () => {
    const from = m.harness.commands.length;
    const result = await m.warren('node', 'reset', NAME, `${NAME}4`, '--yes');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect((await statusOn(m.lab, 4)).disk_nodes).toEqual(nodes(4));
    expect(await quorumMembersOn(m.lab, 1)).toEqual(everyQueueOn(nodes(1, 2, 3)));
    expect(changesSince(m.harness, from).filter((c) => c.includes('rabbitmq-queues'))).toEqual([
      `${NAME}1: rabbitmq-queues -q shrink rabbit@${NAME}4 </dev/null`,
    ]);
  }, 280_000);

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

  it('teardown: every node a blank single node, no quorum queue left', async () => {
    const torn = await m.warren('cluster', 'teardown', NAME, '--yes');
    expect(torn.code, torn.stdout + torn.stderr).toBe(0);
    for (const i of [1, 2, 3]) expect((await statusOn(m.lab, i)).disk_nodes).toEqual(nodes(i));
    expect(await quorumMembersOn(m.lab, 1)).toEqual({});
  }, 280_000);
});
