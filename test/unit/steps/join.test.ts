import { describe, expect, it } from 'vitest';
import { join } from '../../../src/steps/join.js';
import { declareStep } from '../../../src/steps/step.js';
import { FakeRabbitLab, cookieFor } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { fixture } from '../../support/fixtures.js';
import { CMD } from '../../support/expected-commands.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells, scripted } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';
import type { JobOptions } from '../../../src/steps/schema.js';

const STATUS = CMD.clusterStatus;
const VHOSTS = CMD.listVhosts;
const QUEUES = CMD.listQueues('/');
const STOP_APP = CMD.stopApp;
const JOIN = CMD.joinSeed;
const START_APP = CMD.startApp;

const LAB = ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'];
/** Nodes that share the seed's cookie and run, each alone in its own cluster: where join starts. */
const SHARED_COOKIE: NodeSetup = { cookie: cookieFor('lab1') };

function setUp(setups: Record<string, NodeSetup>, job: Partial<JobOptions> = {}) {
  const cluster = labCluster(3);
  const lab = new FakeRabbitLab(cluster.hosts, {
    lab1: SHARED_COOKIE,
    lab2: SHARED_COOKIE,
    lab3: SHARED_COOKIE,
    ...setups,
  });
  const shells = new RecordingShells(cluster.hosts, lab.respond);
  const { ctx, reports } = stepContext(cluster, shells, { facts: labFacts(cluster), job });
  return { lab, shells, ctx, reports };
}

const MEMBERSHIP = /stop_app|join_cluster|start_app/;

describe('rabbit:join', () => {
  it('joins nodes 2..n to the seed one at a time: stop_app, join_cluster, start_app', async () => {
    const { lab, shells, ctx } = setUp({});

    const outcome = await declareStep(join).execute(ctx);

    expect(shells.matching(MEMBERSHIP)).toEqual([
      `lab2: ${STOP_APP}`,
      `lab2: ${JOIN}`,
      `lab2: ${START_APP}`,
      `lab3: ${STOP_APP}`,
      `lab3: ${JOIN}`,
      `lab3: ${START_APP}`,
    ]);
    expect(outcome?.detail).toBe('joined lab2, lab3');
    for (const node of lab.nodes.values()) expect([...node.members].sort()).toEqual(LAB);
  });

  it('checks each node (status, then its queues) before touching any', async () => {
    const { shells, ctx } = setUp({});

    await declareStep(join).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([STATUS]);
    expect(shells.commandsOn('lab2')).toEqual([STATUS, VHOSTS, QUEUES, STOP_APP, JOIN, START_APP]);
    const firstStop = shells.commands.findIndex((c) => c.command === STOP_APP);
    const lastCheck = shells.commands.map((c) => c.command).lastIndexOf(QUEUES);
    expect(lastCheck).toBeLessThan(firstStop);
  });

  it('skips, with only status reads, a cluster that is already formed', async () => {
    const cluster = labCluster(3);
    const lab = FakeRabbitLab.formed(cluster.hosts);
    const shells = new RecordingShells(cluster.hosts, lab.respond);
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    const outcome = await declareStep(join).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands.map((c) => `${c.host}: ${c.command}`).sort()).toEqual([
      `lab1: ${STATUS}`,
      `lab2: ${STATUS}`,
      `lab3: ${STATUS}`,
    ]);
  });

  it('joins only the node that is missing', async () => {
    const pair = ['rabbit@lab1', 'rabbit@lab2'];
    const { shells, ctx } = setUp({
      lab1: { ...SHARED_COOKIE, members: pair },
      lab2: { ...SHARED_COOKIE, members: pair },
    });

    await declareStep(join).execute(ctx);

    expect(shells.matching(MEMBERSHIP)).toEqual([`lab3: ${STOP_APP}`, `lab3: ${JOIN}`, `lab3: ${START_APP}`]);
  });

  // A worker that died between stop_app and start_app leaves the VM up and the app stopped; 3.10.8's
  // cluster_status refuses such a node with exit 64. The join check starts the app, then judges it.
  // The seed's view was read while the app was stopped, so the member is joined again (exit 0).
  it(
    'brings back a member whose app is stopped with start_app and, with ' +
      'the seed seeing it again, does not rejoin it',
    async () => {
      const cluster = labCluster(3);
      const lab = FakeRabbitLab.formed(cluster.hosts);
      lab.node('lab3').app = false;
      const shells = new RecordingShells(cluster.hosts, lab.respond);
      const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

      const outcome = await declareStep(join).execute(ctx);

      expect(outcome).toBeUndefined();
      expect(shells.commandsOn('lab3')).toEqual([STATUS, START_APP, STATUS]);
      expect(shells.commandsOn('lab3')).not.toContain(VHOSTS);
      expect(shells.matching(/stop_app|join_cluster/)).toEqual([]);
      expect(lab.node('lab3').app).toBe(true);
      expect(lab.node('lab3').starts).toBe(0);
      for (const node of lab.nodes.values()) expect([...node.members].sort()).toEqual(LAB);
    },
  );

  it('skips a member whose stopped app it started when the seed already lists it as running', async () => {
    const cluster = labCluster(3);
    const lab = FakeRabbitLab.formed(cluster.hosts);
    lab.node('lab3').app = false;
    // The seed answers as it would once lab3's app is back (lab3 running); lab3 itself still refuses with exit 64
    // first.
    const seedView = JSON.stringify({ disk_nodes: LAB, running_nodes: LAB, alarms: [], partitions: {} });
    const shells = new RecordingShells(cluster.hosts, (host, command, stdin) =>
      host === 'lab1' && command === STATUS ? { code: 0, stdout: seedView } : lab.respond(host, command, stdin),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    const outcome = await declareStep(join).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commandsOn('lab3')).toEqual([STATUS, START_APP, STATUS]);
    expect(shells.matching(/stop_app|join_cluster/)).toEqual([]);
    expect(lab.node('lab3').app).toBe(true);
  });

  it('starts the stopped app of a standalone node, then checks its queues and joins it', async () => {
    const { lab, shells, ctx } = setUp({});
    lab.node('lab2').app = false;

    await declareStep(join).execute(ctx);

    expect(shells.commandsOn('lab2')).toEqual([STATUS, START_APP, STATUS, VHOSTS, QUEUES, STOP_APP, JOIN, START_APP]);
    for (const node of lab.nodes.values()) expect([...node.members].sort()).toEqual(LAB);
  });

  it('still refuses a node of another cluster after starting its stopped app', async () => {
    const { lab, shells, ctx } = setUp({ lab3: { ...SHARED_COOKIE, members: ['rabbit@lab3', 'rabbit@other1'] } });
    lab.node('lab3').app = false;

    await expect(declareStep(join).execute(ctx)).rejects.toMatchObject({ code: 'join.would_wipe', host: 'lab3' });
    expect(shells.commandsOn('lab3')).toEqual([STATUS, START_APP, STATUS]);
    expect(shells.matching(/stop_app|join_cluster/)).toEqual([]);
  });

  it('fails as unreachable when start_app does not bring the app back', async () => {
    const cluster = labCluster(2);
    const appStopped = {
      code: 64,
      stderr:
        "Error: this command requires the 'rabbit' app to be running on the " +
        "target node. Start it with 'rabbitmqctl start_app'.\n",
    };
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        [
          'lab1',
          /cluster_status/,
          {
            code: 0,
            stdout: JSON.stringify({
              disk_nodes: ['rabbit@lab1'],
              running_nodes: ['rabbit@lab1'],
              alarms: [],
              partitions: {},
            }),
          },
        ],
        ['lab2', /cluster_status/, appStopped],
        ['lab2', /start_app/, { code: 0 }],
      ]),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    await expect(declareStep(join).execute(ctx)).rejects.toMatchObject({
      code: 'status.unreachable',
      host: 'lab2',
      retryable: true,
    });
    expect(shells.commandsOn('lab2')).toEqual([STATUS, START_APP, STATUS]);
  });

  it('refuses a node that belongs to another cluster, before touching any node', async () => {
    const { shells, ctx } = setUp({ lab3: { ...SHARED_COOKIE, members: ['rabbit@lab3', 'rabbit@other1'] } });

    const run = declareStep(join).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'join.would_wipe',
      host: 'lab3',
      retryable: false,
      message: 'lab3 belongs to another cluster (rabbit@other1); joining would wipe it',
    });
    expect(shells.matching(MEMBERSHIP)).toEqual([]);
  });

  it('refuses a node that holds queues, counting them', async () => {
    const { shells, ctx } = setUp({
      lab2: {
        ...SHARED_COOKIE,
        vhosts: { '/': undefined, billing: undefined },
        queues: { '/': ['orders'], billing: ['invoices', 'refunds'] },
      },
    });

    const run = declareStep(join).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'join.would_wipe',
      host: 'lab2',
      message: 'lab2 holds 3 queue(s); joining would delete them',
    });
    expect(shells.commandsOn('lab2')).toEqual([STATUS, VHOSTS, QUEUES, CMD.listQueues('billing')]);
    expect(shells.matching(MEMBERSHIP)).toEqual([]);
  });

  it('joins such nodes when the job allows the wipe, without counting queues', async () => {
    const { lab, shells, ctx } = setUp(
      {
        lab2: { ...SHARED_COOKIE, queues: { '/': ['orders'] } },
        lab3: { ...SHARED_COOKIE, members: ['rabbit@lab3', 'rabbit@other1'] },
      },
      { allowWipe: true },
    );

    await declareStep(join).execute(ctx);

    expect(shells.matching(/list_queues|list_vhosts/)).toEqual([]);
    expect(shells.matching(/join_cluster/)).toEqual([`lab2: ${JOIN}`, `lab3: ${JOIN}`]);
    expect(lab.node('lab2').queues).toEqual({});
  });

  it('starts the app again and fails with join.failed when the join is refused', async () => {
    const { lab, shells, ctx } = setUp({ lab2: { cookie: cookieFor('lab2') } });

    const run = declareStep(join).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'join.failed',
      host: 'lab2',
      retryable: true,
      message: 'lab2 could not join rabbit@lab1',
      evidence: {
        command: JOIN,
        exitCode: 69,
        stderr: fixture('rabbitmq-3.10/join_cluster.cookie-mismatch.exit69.txt'),
      },
    });
    expect(shells.matching(MEMBERSHIP)).toEqual([`lab2: ${STOP_APP}`, `lab2: ${JOIN}`, `lab2: ${START_APP}`]);
    expect(lab.node('lab2').app).toBe(true);
  });

  it("reports a seed the node cannot resolve with rabbitmqctl's own diagnosis", async () => {
    const { ctx } = setUp({ lab3: { ...SHARED_COOKIE, unresolved: ['lab1'] } });

    const run = declareStep(join).execute(ctx);

    await expect(run).rejects.toMatchObject({
      code: 'join.failed',
      host: 'lab3',
      evidence: { stderr: expect.stringContaining('nxdomain') as unknown },
    });
  });

  it('still fails with join.failed when the start_app after a failed join fails too', async () => {
    const cluster = labCluster(2);
    const alone = (node: string) =>
      JSON.stringify({ disk_nodes: [node], running_nodes: [node], alarms: [], partitions: {} });
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        ['lab1', /cluster_status/, { code: 0, stdout: alone('rabbit@lab1') }],
        ['lab2', /cluster_status/, { code: 0, stdout: alone('rabbit@lab2') }],
        ['lab2', /list_vhosts/, { code: 0, stdout: '[{"name":"/"}]' }],
        ['lab2', /list_queues/, { code: 0, stdout: '[]' }],
        ['lab2', /stop_app/, { code: 0 }],
        [
          'lab2',
          /join_cluster/,
          { code: 69, stderr: fixture('rabbitmq-3.10/join_cluster.unresolvable-seed.exit69.txt') },
        ],
        ['lab2', /start_app/, { code: 69, stderr: 'Error: unable to perform an operation on node' }],
      ]),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    await expect(declareStep(join).execute(ctx)).rejects.toMatchObject({
      code: 'join.failed',
      evidence: { command: JOIN },
    });
    expect(shells.commandsOn('lab2').slice(-3)).toEqual([STOP_APP, JOIN, START_APP]);
  });

  it('does not touch the next node after a failed join', async () => {
    const { shells, ctx } = setUp({ lab2: { cookie: cookieFor('lab2') } });

    await declareStep(join)
      .execute(ctx)
      .catch(() => undefined);

    expect(shells.matching(MEMBERSHIP).filter((l) => l.startsWith('lab3'))).toEqual([]);
  });

  it('joins a node the membership gate found joinable without asking it again', async () => {
    const { shells, ctx } = setUp({});
    // The gate read the seed's store too: Mnesia commits a join with its exit code.
    ctx.facts.set('lab1', { ...ctx.facts.get('lab1')!, metadataStore: 'mnesia' });
    ctx.facts.set('lab2', { ...ctx.facts.get('lab2')!, membership: 'joinable' });
    ctx.facts.set('lab3', { ...ctx.facts.get('lab3')!, membership: 'joinable' });

    await declareStep(join).execute(ctx);

    expect(shells.commandsOn('lab1')).toEqual([]);
    expect(shells.commandsOn('lab2')).toEqual([STOP_APP, JOIN, START_APP]);
    expect(shells.commandsOn('lab3')).toEqual([STOP_APP, JOIN, START_APP]);
  });

  it('trusts the gate about members and reads only the seed', async () => {
    const cluster = labCluster(3);
    const lab = FakeRabbitLab.formed(cluster.hosts);
    const shells = new RecordingShells(cluster.hosts, lab.respond);
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });
    for (const host of ['lab2', 'lab3']) ctx.facts.set(host, { ...ctx.facts.get(host)!, membership: 'member' });

    const outcome = await declareStep(join).execute(ctx);

    expect(outcome).toBeUndefined();
    expect(shells.commands).toEqual([{ host: 'lab1', command: STATUS }]);
  });

  it('fails as unreachable when a node the gate could not ask is still down', async () => {
    const { ctx } = setUp({ lab3: { ...SHARED_COOKIE, running: false } });

    await expect(declareStep(join).execute(ctx)).rejects.toMatchObject({
      code: 'status.unreachable',
      host: 'lab3',
      retryable: true,
    });
  });

  it('fails with status.unparseable when a node prints no JSON', async () => {
    const cluster = labCluster(2);
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        ['lab1', /cluster_status/, { code: 0, stdout: fixture('rabbitmq-3.10/cluster_status.clean.json') }],
        ['lab2', /cluster_status/, { code: 0, stdout: 'Cluster status of node rabbit@lab2 ...\n' }],
      ]),
    );
    const { ctx } = stepContext(cluster, shells, { facts: labFacts(cluster) });

    await expect(declareStep(join).execute(ctx)).rejects.toMatchObject({ code: 'status.unparseable', host: 'lab2' });
  });
});
