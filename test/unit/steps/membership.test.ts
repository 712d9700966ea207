import { describe, expect, it } from 'vitest';
import type { JobOptions } from '../../../src/steps/schema.js';
import { membership } from '../../../src/steps/membership.js';
import { declareStep } from '../../../src/steps/step.js';
import { FakeRabbitLab } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { CMD } from '../../support/expected-commands.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';

const LAB = ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'];

function setUp(setups: Record<string, NodeSetup>, job: Partial<JobOptions> = {}) {
  const cluster = labCluster(3);
  const lab = new FakeRabbitLab(cluster.hosts, setups);
  const shells = new RecordingShells(cluster.hosts, lab.respond);
  const { ctx, reports } = stepContext(cluster, shells, { facts: labFacts(cluster), job });
  return { lab, shells, ctx, reports };
}

/** Anything that would change a node. */
const WRITES = /shutdown|stop_app|join_cluster|start_app|base64 -d|set_policy|rabbitmq-server start/;

describe('rabbit:membership (the gate before any node is touched)', () => {
  it('finds standalone nodes without queues joinable, reading status then queues', async () => {
    const { shells, ctx } = setUp({});

    const outcome = await declareStep(membership).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([CMD.clusterStatus]);
    expect(shells.commandsOn('lab2')).toEqual([CMD.clusterStatus, CMD.listVhosts, CMD.listQueues('/')]);
    expect(shells.commandsOn('lab3')).toEqual([CMD.clusterStatus, CMD.listVhosts, CMD.listQueues('/')]);
    expect(outcome?.detail).toBe('lab2: joinable; lab3: joinable');
    expect(ctx.facts.get('lab2')?.membership).toBe('joinable');
    expect(ctx.facts.get('lab3')?.membership).toBe('joinable');
    expect(ctx.facts.get('lab1')?.membership).toBeUndefined();
  });

  it('records members of the seed cluster as members, without counting their queues', async () => {
    const cluster = labCluster(3);
    const lab = FakeRabbitLab.formed(cluster.hosts, { queues: { '/': ['orders'] } });
    const shells = new RecordingShells(cluster.hosts, lab.respond);
    const { ctx, reports } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    const outcome = await declareStep(membership).execute(ctx);

    expect(shells.commands.map((c) => c.command)).toEqual([CMD.clusterStatus, CMD.clusterStatus, CMD.clusterStatus]);
    expect(outcome?.detail).toBe('lab2: member; lab3: member');
    expect(ctx.facts.get('lab2')?.membership).toBe('member');
    expect(reports.filter((r) => r.state === 'done').map((r) => r.detail)).toEqual([
      'already a member',
      'already a member',
    ]);
  });

  it('refuses a node of another cluster before anything is written anywhere', async () => {
    const { shells, ctx } = setUp({ lab2: { members: ['rabbit@lab2', 'rabbit@billing1'] } });

    const run = declareStep(membership).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'join.would_wipe',
      host: 'lab2',
      message: 'lab2 belongs to another cluster (rabbit@billing1); joining would wipe it',
      hint: 'Check that lab2 is the right host. To wipe it and join anyway, run the create again with --allow-wipe.',
    });
    expect(shells.matching(WRITES)).toEqual([]);
  });

  it('refuses a standalone node that holds queues', async () => {
    const { shells, ctx } = setUp({ lab3: { queues: { '/': ['orders', 'invoices'] } } });

    await expect(declareStep(membership).execute(ctx)).rejects.toMatchObject({
      code: 'join.would_wipe',
      host: 'lab3',
      message: 'lab3 holds 2 queue(s); joining would delete them',
    });
    expect(shells.matching(WRITES)).toEqual([]);
  });

  it('lets the job allow the wipe, without counting queues', async () => {
    const { shells, ctx } = setUp(
      { lab2: { members: ['rabbit@lab2', 'rabbit@billing1'] }, lab3: { queues: { '/': ['orders'] } } },
      { allowWipe: true },
    );

    await declareStep(membership).execute(ctx);

    expect(shells.matching(/list_/)).toEqual([]);
    expect(ctx.facts.get('lab2')?.membership).toBe('joinable');
    expect(ctx.facts.get('lab3')?.membership).toBe('joinable');
  });

  it('leaves a node whose VM is down for the join step to assess', async () => {
    const { shells, ctx } = setUp({ lab3: { running: false } });

    const outcome = await declareStep(membership).execute(ctx);

    expect(shells.commandsOn('lab3')).toEqual([CMD.clusterStatus]);
    expect(outcome?.detail).toBe('lab2: joinable; lab3: not running: checked before its join');
    expect(ctx.facts.get('lab3')?.membership).toBeUndefined();
  });

  it('leaves a node whose VM runs with its app stopped for the join step, without starting it', async () => {
    const { lab, shells, ctx } = setUp({});
    lab.node('lab3').app = false;

    const outcome = await declareStep(membership).execute(ctx);

    expect(shells.commandsOn('lab3')).toEqual([CMD.clusterStatus]);
    expect(outcome?.detail).toBe('lab2: joinable; lab3: not running: checked before its join');
    expect(ctx.facts.get('lab3')?.membership).toBeUndefined();
    expect(lab.node('lab3').app).toBe(false);
  });

  it('postpones the whole check when the seed runs with its app stopped', async () => {
    const { lab, shells, ctx } = setUp({});
    lab.node('lab1').app = false;

    const outcome = await declareStep(membership).execute(ctx);

    expect(outcome?.detail).toBe('seed lab1 is not running yet: membership is checked before the join');
    expect(shells.matching(WRITES)).toEqual([]);
  });

  it('postpones the whole check when the seed is not running yet', async () => {
    const { shells, ctx } = setUp({ lab1: { running: false } });

    const outcome = await declareStep(membership).execute(ctx);

    expect(shells.commands.map((c) => c.command)).toEqual([CMD.clusterStatus, CMD.clusterStatus, CMD.clusterStatus]);
    expect(outcome?.detail).toBe('seed lab1 is not running yet: membership is checked before the join');
    expect([...ctx.facts.values()].map((f) => f.membership)).toEqual([undefined, undefined, undefined]);
  });

  it('names a failing guarded cluster_status by its command, not by the "if" in front', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts);
    const shells = new RecordingShells(cluster.hosts, (host, command, stdin) =>
      host === 'lab2' && command === CMD.clusterStatus
        ? { code: 70, stderr: 'Error: internal software error\n' }
        : lab.respond(host, command, stdin),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    await expect(declareStep(membership).execute(ctx)).rejects.toMatchObject({
      code: 'command.failed',
      message: 'rabbitmqctl cluster_status failed on lab2 with exit code 70',
      evidence: { host: 'lab2', command: CMD.clusterStatus, exitCode: 70 },
    });
  });

  it('fails with status.unparseable, naming the host, when list_vhosts prints no JSON', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts);
    const shells = new RecordingShells(cluster.hosts, (host, command, stdin) =>
      host === 'lab3' && command === CMD.listVhosts
        ? { code: 0, stdout: 'Listing vhosts ...\n/\n' }
        : lab.respond(host, command, stdin),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    await expect(declareStep(membership).execute(ctx)).rejects.toMatchObject({
      code: 'status.unparseable',
      host: 'lab3',
      message: expect.stringMatching(/^list_vhosts on lab3 did not print JSON/) as unknown,
    });
  });

  it('never changes a node', async () => {
    const cluster = labCluster(3);
    const lab = FakeRabbitLab.formed(cluster.hosts);
    const shells = new RecordingShells(cluster.hosts, lab.respond);
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    await declareStep(membership).execute(ctx);

    expect(shells.matching(WRITES)).toEqual([]);
    for (const node of lab.nodes.values()) expect([...node.members].sort()).toEqual(LAB);
  });
});
