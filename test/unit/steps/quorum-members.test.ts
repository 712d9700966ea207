import { describe, expect, it } from 'vitest';
import { quorumMembers } from '../../../src/steps/quorum-members.js';
import { declareStep } from '../../../src/steps/step.js';
import { CMD } from '../../support/expected-commands.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import type { Reply } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';

/** The prototype's nodes: inventory lab1..lab3, hostnames t4n1..t4n3 (so the real captures fit). */
const cluster = labCluster(3, {}, (i) => ({ hostname: `t4n${i + 1}` }));
const ok = (stdout = ''): Reply => ({ code: 0, stdout });
const VHOSTS = ok('[{"name":"/"},{"name":"qv"}]');

/** A real listing with one node's replicas taken out: what the node answers once they are gone. */
function without(path: string, node: string): string {
  const rows = JSON.parse(fixture(path)) as { members: string[] }[];
  return JSON.stringify(rows.map((r) => ({ ...r, members: r.members.filter((m) => m !== node) })));
}

/** lab1 answers each command from `answers` (a list is answered in turn, its last entry repeating). */
function lab1Answering(answers: Record<string, Reply | Reply[]>) {
  const calls = new Map<string, number>();
  const shells = new RecordingShells(cluster.hosts, (host, command) => {
    const answer = host === 'lab1' ? answers[command] : undefined;
    if (!answer) throw new Error(`unexpected ${host}: ${command}`);
    const list = Array.isArray(answer) ? answer : [answer];
    const n = calls.get(command) ?? 0;
    calls.set(command, n + 1);
    return list[Math.min(n, list.length - 1)];
  });
  return shells;
}

describe('rabbit:quorum-members after a reset (4.3.6: shrink refuses a node that left)', () => {
  it('falls back to one delete_member per queue when shrink exits 69, then reads the members again', async () => {
    const shells = lab1Answering({
      [CMD.clusterStatus]: ok(fixture('rabbitmq-4.3/cluster_status.after-member-reset.json')),
      [CMD.listVhosts]: VHOSTS,
      [CMD.listQueueMembers('/')]: [
        ok(fixture('rabbitmq-4.3/list_queues.after-member-reset.default-vhost.json')),
        ok(without('rabbitmq-4.3/list_queues.after-member-reset.default-vhost.json', 'rabbit@t4n2')),
      ],
      [CMD.listQueueMembers('qv')]: [
        ok(fixture('rabbitmq-4.3/list_queues.after-member-reset.qv-vhost.json')),
        ok(without('rabbitmq-4.3/list_queues.after-member-reset.qv-vhost.json', 'rabbit@t4n2')),
      ],
      [CMD.shrink('rabbit@t4n2')]: {
        code: 69,
        stdout: 'Shrinking queues on rabbit@t4n2...\n',
        stderr: fixture('rabbitmq-4.3/rabbitmq-queues-shrink.reset-node.exit69.stderr.txt').replace('t4n3', 't4n2'),
      },
      [CMD.deleteMember('/', 'dq1', 'rabbit@t4n2')]: ok(
        fixture('rabbitmq-4.3/rabbitmq-queues-delete_member.exit0.txt'),
      ),
      [CMD.deleteMember('/', 'qq-admin', 'rabbit@t4n2')]: ok(),
      [CMD.deleteMember('/', 'qq1', 'rabbit@t4n2')]: ok(),
      [CMD.deleteMember('qv', 'dq2', 'rabbit@t4n2')]: ok(),
    });
    const { ctx } = stepContext(cluster, shells, {
      facts: labFacts(cluster, { rabbitmqVersion: '4.3.6' }),
      target: cluster.hosts[1],
    });

    const found = new Map<string, unknown>();
    const outcome = await declareStep(quorumMembers('survivors')).execute({ ...ctx, found });

    const read = [CMD.clusterStatus, CMD.listVhosts, CMD.listQueueMembers('/'), CMD.listQueueMembers('qv')];
    expect(shells.commandsOn('lab1')).toEqual([
      ...read,
      CMD.shrink('rabbit@t4n2'),
      CMD.deleteMember('/', 'dq1', 'rabbit@t4n2'),
      CMD.deleteMember('/', 'qq-admin', 'rabbit@t4n2'),
      CMD.deleteMember('/', 'qq1', 'rabbit@t4n2'),
      CMD.deleteMember('qv', 'dq2', 'rabbit@t4n2'),
      ...read,
    ]);
    expect(outcome?.detail).toBe('rabbit@t4n2: replica deleted from 4 queue(s)');
    // read again and right: verify, next, may take the step's word for these members on lab1
    expect(found.get('rabbit:quorum-members')).toEqual({ reader: 'lab1', nodes: ['rabbit@t4n1', 'rabbit@t4n3'] });
  });

  it('leaves nothing settled for verify while a drift it does not fix remains (verify names it)', async () => {
    const shells = lab1Answering({
      [CMD.clusterStatus]: ok(fixture('rabbitmq-4.3/cluster_status.t4n3-app-stopped.json')),
      [CMD.listVhosts]: ok('[{"name":"/"}]'),
      [CMD.listQueueMembers('/')]: ok(
        without('rabbitmq-4.3/list_queues.after-member-reset.default-vhost.json', 'rabbit@t4n3'),
      ),
    });
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster, { rabbitmqVersion: '4.3.6' }) });
    const found = new Map<string, unknown>();

    // t4n3 lacks replicas but its app is stopped: grow cannot reach it, nothing to do, and nothing settled
    await expect(declareStep(quorumMembers('cluster')).execute({ ...ctx, found })).resolves.toBeUndefined();

    expect(found.has('rabbit:quorum-members')).toBe(false);
  });

  it('uses shrink alone where it works (4.0.5: exit 0 for a node reset away)', async () => {
    const stale = fixture('rabbitmq-4.3/list_queues.after-member-reset.default-vhost.json');
    const shells = lab1Answering({
      [CMD.clusterStatus]: ok(fixture('rabbitmq-4.3/cluster_status.after-member-reset.json')),
      [CMD.listVhosts]: ok('[{"name":"/"}]'),
      [CMD.listQueueMembers('/')]: [
        ok(stale),
        ok(without('rabbitmq-4.3/list_queues.after-member-reset.default-vhost.json', 'rabbit@t4n2')),
      ],
      [CMD.shrink('rabbit@t4n2')]: ok(),
    });
    const { ctx } = stepContext(cluster, shells, {
      facts: labFacts(cluster, { rabbitmqVersion: '4.0.5' }),
      target: cluster.hosts[1],
    });

    await declareStep(quorumMembers('survivors')).execute(ctx);

    expect(shells.matching(/rabbitmq-queues/)).toEqual([`lab1: ${CMD.shrink('rabbit@t4n2')}`]);
  });

  it('fails retryably, naming the queues, when the members still differ after the shrink', async () => {
    const stale = ok(fixture('rabbitmq-4.3/list_queues.after-member-reset.default-vhost.json'));
    const shells = lab1Answering({
      [CMD.clusterStatus]: ok(fixture('rabbitmq-4.3/cluster_status.after-member-reset.json')),
      [CMD.listVhosts]: ok('[{"name":"/"}]'),
      [CMD.listQueueMembers('/')]: stale,
      [CMD.shrink('rabbit@t4n2')]: ok(),
    });
    const { ctx } = stepContext(cluster, shells, {
      facts: labFacts(cluster, { rabbitmqVersion: '4.0.5' }),
      target: cluster.hosts[1],
    });

    await expect(declareStep(quorumMembers('survivors')).execute(ctx)).rejects.toMatchObject({
      code: 'verify.failed',
      retryable: true,
      message: expect.stringContaining('quorum queue dq1 in vhost / keeps a replica on rabbit@t4n2') as unknown,
    });
  });
});

describe('rabbit:quorum-members after a join (create, node add)', () => {
  it('grows the node that joined without replicas onto every quorum queue', async () => {
    const shells = lab1Answering({
      [CMD.clusterStatus]: ok(fixture('rabbitmq-4.3/cluster_status.3nodes.json')),
      [CMD.listVhosts]: VHOSTS,
      [CMD.listQueueMembers('/')]: [
        ok(fixture('rabbitmq-4.3/list_queues.after-rejoin-before-grow.default-vhost.json')),
        ok(fixture('rabbitmq-4.3/list_queues.after-grow.default-vhost.json')),
      ],
      [CMD.listQueueMembers('qv')]: [
        ok(fixture('rabbitmq-4.3/list_queues.after-rejoin-before-grow.qv-vhost.json')),
        ok(fixture('rabbitmq-4.3/list_queues.after-grow.qv-vhost.json')),
      ],
      [CMD.grow('rabbit@t4n3')]: ok(),
    });
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster, { rabbitmqVersion: '4.3.6' }) });

    const outcome = await declareStep(quorumMembers('cluster')).execute(ctx);

    expect(shells.matching(/rabbitmq-queues/)).toEqual([`lab1: ${CMD.grow('rabbit@t4n3')}`]);
    expect(outcome?.detail).toBe('rabbit@t4n3: grown onto every quorum queue');
  });

  it('is skipped when every quorum queue already has exactly the cluster nodes', async () => {
    const shells = lab1Answering({
      [CMD.clusterStatus]: ok(fixture('rabbitmq-4.0/cluster_status.3nodes.json')),
      [CMD.listVhosts]: ok('[{"name":"/"}]'),
      [CMD.listQueueMembers('/')]: ok(fixture('rabbitmq-4.0/list_queues.3nodes.default-vhost.json')),
    });
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster, { rabbitmqVersion: '4.0.5' }) });

    await expect(declareStep(quorumMembers('cluster')).execute(ctx)).resolves.toBeUndefined();
    expect(shells.commandsOn('lab1')).toEqual([CMD.clusterStatus, CMD.listVhosts, CMD.listQueueMembers('/')]);
  });

  it('asks nothing before 3.8 (no quorum queues)', async () => {
    const shells = lab1Answering({});
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster, { rabbitmqVersion: '3.7.28' }) });

    await expect(declareStep(quorumMembers('cluster')).execute(ctx)).resolves.toBeUndefined();
    expect(shells.commands).toEqual([]);
  });

  it('plans the reads and the grows (create) or the shrink and its fallback (reset, remove)', () => {
    const grow = quorumMembers('cluster')
      .plan(cluster)
      .map((p) => `${p.host}: ${p.command}`);
    expect(grow).toEqual([
      `lab1: ${CMD.clusterStatus}`,
      `lab1: ${CMD.listVhosts}`,
      `lab1: ${CMD.listQueueMembers("'<vhost>'")}`,
      ...['t4n1', 't4n2', 't4n3'].map((h) => `lab1: ${CMD.grow(`rabbit@${h}`)}`),
    ]);
    const shrink = quorumMembers('survivors')
      .plan(cluster, cluster.hosts[0])
      .map((p) => `${p.host}: ${p.command}`);
    expect(shrink).toEqual([
      `lab2: ${CMD.clusterStatus}`,
      `lab2: ${CMD.listVhosts}`,
      `lab2: ${CMD.listQueueMembers("'<vhost>'")}`,
      `lab2: ${CMD.shrink('rabbit@t4n1')}`,
      `lab2: ${CMD.deleteMember("'<vhost>'", "'<queue>'", 'rabbit@t4n1')}`,
    ]);
  });
});
