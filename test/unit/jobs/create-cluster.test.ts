import { describe, expect, it } from 'vitest';
import { createCluster } from '../../../jobs/create-cluster.js';
import { operations } from '../../../jobs/index.js';
import type { ResolvedCluster } from '../../../src/config/load.js';
import { evaluateHealth, parseClusterStatus } from '../../../src/rabbit/cluster-status.js';
import { ClusterCreateResult } from '../../../src/operations/schema.js';
import { runOperation } from '../../../src/operations/run-operation.js';
import type { StepReport } from '../../../src/operations/run-operation.js';
import { MIRRORING_DEPRECATED } from '../../../src/steps/replication.js';
import { FakeRabbitLab, cookieFor } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { CMD, cookieSha256 } from '../../support/expected-commands.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import { MemoryMembership, labFacts, silentLogger } from '../../support/step-context.js';

const HEALTHY = evaluateHealth(
  'demo',
  parseClusterStatus(fixture('rabbitmq-3.10/cluster_status.clean.json'), 'lab1'),
  new Map([
    ['rabbit@lab1', 'lab1'],
    ['rabbit@lab2', 'lab2'],
    ['rabbit@lab3', 'lab3'],
  ]),
  'lab1',
);

async function create(cluster: ResolvedCluster, lab: FakeRabbitLab, completedSteps: string[] = []) {
  const shells = new RecordingShells(cluster.hosts, lab.respond);
  const reports: StepReport[] = [];
  const checkpoints: string[][] = [];
  const result = await runOperation({
    definition: createCluster,
    cluster,
    shells,
    options: { allowWipe: false },
    membership: new MemoryMembership(),
    logger: silentLogger,
    completedSteps,
    report: (event) => {
      reports.push(event);
      return Promise.resolve();
    },
    saveCheckpoint: (steps) => {
      checkpoints.push(steps);
      return Promise.resolve();
    },
  });
  return { result, shells, reports, checkpoints };
}

describe('the cluster.create definition', () => {
  it(
    'orders the runbook: preflight, install, compatibility, membership ' +
      'gate, cookie, start, join, replication, quorum members, verify',
    () => {
      expect(createCluster.steps.map((s) => s.id)).toEqual([
        'rabbit:preflight',
        'rabbit:install',
        'rabbit:compatibility',
        'rabbit:membership',
        'rabbit:cookie',
        'rabbit:start',
        'rabbit:join',
        'rabbit:replication',
        'rabbit:quorum-members',
        'rabbit:verify',
      ]);
      // The read-only steps run on every attempt, and start (which recovers a node left with its app
      // stopped); the ones that change a node otherwise are checkpointed.
      expect([...createCluster.alwaysRun].sort()).toEqual([
        'rabbit:compatibility',
        'rabbit:membership',
        'rabbit:preflight',
        'rabbit:start',
        'rabbit:verify',
      ]);
      expect(operations['cluster.create']).toBe(createCluster);
    },
  );

  it('builds a 3.x result: ha-all with the deprecation warning, a transport_url with placeholders', () => {
    const cluster = labCluster(3);

    const result = createCluster.buildResult({
      cluster,
      facts: labFacts(cluster),
      steps: [
        { id: 'rabbit:preflight', state: 'done', durationMs: 400, detail: '3 nodes reachable' },
        { id: 'rabbit:verify', state: 'done', durationMs: 700, detail: 'ok', output: HEALTHY },
      ],
    });

    expect(ClusterCreateResult.parse(result)).toEqual(result);
    expect(result).toEqual({
      cluster: 'demo',
      health: HEALTHY,
      replication: { mode: 'ha-all', detail: 'policy ha-all: ^(?!amq\\.).* -> {"ha-mode":"all"}' },
      warnings: [MIRRORING_DEPRECATED],
      transportUrl: 'rabbit://USER:PASS@10.213.0.11:5672,USER:PASS@10.213.0.12:5672,USER:PASS@10.213.0.13:5672/',
      steps: [
        { id: 'rabbit:preflight', state: 'done', durationMs: 400, detail: '3 nodes reachable' },
        { id: 'rabbit:verify', state: 'done', durationMs: 700, detail: 'ok' },
      ],
    });
  });

  it('builds a 4.x result: quorum, no warning', () => {
    const cluster = labCluster(3);

    const result = createCluster.buildResult({
      cluster,
      facts: labFacts(cluster, { rabbitmqVersion: '4.0.5' }),
      steps: [{ id: 'rabbit:verify', state: 'done', output: HEALTHY }],
    });

    expect(result.replication.mode).toBe('quorum');
    expect(result.warnings).toEqual([]);
  });
});

describe('cluster.create against simulated Debian nodes', () => {
  it('forms a 3-node cluster from fresh nodes, each with its own cookie, without a restart', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts);

    const { result, shells, checkpoints } = await create(cluster, lab);

    expect(result.health.headline).toBe('healthy');
    expect(ClusterCreateResult.safeParse(result).success).toBe(true);
    for (const node of lab.nodes.values()) {
      expect([...node.members].sort()).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3']);
      expect(node.cookie).toBe(cookieFor('lab1'));
      expect(node.policies.map((p) => p.name)).toEqual(['ha-all']);
    }
    // The gate found lab2 and lab3 standalone and empty, so their VMs took the cookie live.
    expect([...lab.nodes.values()].map((n) => [n.starts, n.liveSwitches])).toEqual([
      [0, 0],
      [0, 1],
      [0, 1],
    ]);
    expect(shells.matching(/shutdown|eval|join_cluster/)).toEqual([
      expect.stringMatching(/^lab[23]: trap '' HUP; /),
      expect.stringMatching(/^lab[23]: trap '' HUP; /),
      `lab2: ${CMD.joinSeed}`,
      `lab3: ${CMD.joinSeed}`,
    ]);
    expect(checkpoints.at(-1)).toEqual(createCluster.steps.map((s) => s.id));
    // read once each: the seed's cookie (the copy reuses the check's read); the quorum queue members (quorum-members
    // reads them, verify takes its word for the same node a moment later)
    expect(shells.matching(/base64 -w0 \/var\/lib\/rabbitmq\/.erlang.cookie'$/)).toHaveLength(1);
    expect(shells.commandsOn('lab1').filter((c) => c === CMD.listVhosts)).toHaveLength(1);
    expect(shells.commandsOn('lab1').filter((c) => c === CMD.listQueueMembers('/'))).toHaveLength(1);
  });

  it('restarts each joining node exactly once when live cookie switching is off', async () => {
    const cluster = labCluster(3, { liveCookieSwitch: false });
    const lab = new FakeRabbitLab(cluster.hosts);

    const { result, shells } = await create(cluster, lab);

    expect(result.health.headline).toBe('healthy');
    // The cookie step stops lab2 and lab3, the start step starts them: one restart each, none on the seed.
    expect([...lab.nodes.values()].map((n) => n.starts)).toEqual([0, 1, 1]);
    expect(shells.matching(/shutdown|eval|join_cluster/)).toEqual([
      expect.stringMatching(/^lab[23]: rabbitmqctl -q shutdown/),
      expect.stringMatching(/^lab[23]: rabbitmqctl -q shutdown/),
      `lab2: ${CMD.joinSeed}`,
      `lab3: ${CMD.joinSeed}`,
    ]);
  });

  it('changes nothing on a cluster it already formed: no restart, no stop_app, no join, no write', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts);
    await create(cluster, lab);
    const startsBefore = [...lab.nodes.values()].map((n) => n.starts);

    const { result, shells, reports } = await create(cluster, lab);

    expect(
      shells.matching(/shutdown|stop_app|join_cluster|start_app|rabbitmq-server start|base64 -d|set_policy|apt-get/),
    ).toEqual([]);
    expect([...lab.nodes.values()].map((n) => n.starts)).toEqual(startsBefore);
    expect(result.steps.map((s) => [s.id, s.state])).toEqual([
      ['rabbit:preflight', 'done'],
      ['rabbit:install', 'skipped'],
      ['rabbit:compatibility', 'done'],
      ['rabbit:membership', 'done'],
      ['rabbit:cookie', 'skipped'],
      ['rabbit:start', 'skipped'],
      ['rabbit:join', 'skipped'],
      ['rabbit:replication', 'skipped'],
      ['rabbit:quorum-members', 'skipped'],
      ['rabbit:verify', 'done'],
    ]);
    expect(reports.some((r) => r.state === 'failed')).toBe(false);
  });

  it('recovers a member a dead worker left with its app stopped: start_app, no restart, no join', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts);
    await create(cluster, lab);
    const startsBefore = [...lab.nodes.values()].map((n) => n.starts);
    lab.node('lab3').app = false;

    const { result, shells } = await create(cluster, lab);

    expect(result.health.headline).toBe('healthy');
    expect(shells.matching(/shutdown|stop_app|join_cluster|start_app|rabbitmq-server start|base64 -d/)).toEqual([
      `lab3: ${CMD.sysvStart}`,
    ]);
    expect([...lab.nodes.values()].map((n) => n.starts)).toEqual(startsBefore);
    expect(result.steps.find((s) => s.id === 'rabbit:start')).toMatchObject({ state: 'done' });
    expect(result.steps.find((s) => s.id === 'rabbit:join')).toMatchObject({ state: 'skipped' });
  });

  it('installs, starts and joins a node that had no RabbitMQ at all', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts, { lab3: { packageVersion: null, cookie: null } satisfies NodeSetup });

    const { result, shells } = await create(cluster, lab);

    expect(result.health.headline).toBe('healthy');
    expect(
      shells.commandsOn('lab3').filter((c) => /apt-get|shutdown|base64 -d|rabbitmq-server start|join_cluster/.test(c)),
    ).toEqual([
      CMD.aptInstall,
      CMD.shutdown,
      CMD.writeCookie(cookieSha256(cookieFor('lab1'))),
      CMD.sysvStart,
      CMD.joinSeed,
    ]);
  });

  it('resumes after a worker died: finished steps are not run again', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts);
    const first = await create(cluster, lab);
    const afterCookie = first.checkpoints.find((c) => c.at(-1) === 'rabbit:cookie')!;

    const { shells, reports } = await create(cluster, lab, afterCookie);

    expect(afterCookie).toEqual([
      'rabbit:preflight',
      'rabbit:install',
      'rabbit:compatibility',
      'rabbit:membership',
      'rabbit:cookie',
    ]);
    expect(reports.filter((r) => r.detail === 'finished by an earlier attempt').map((r) => r.step)).toEqual([
      'rabbit:install',
      'rabbit:cookie',
    ]);
    expect(shells.matching(/^sha256sum|^dpkg-query|^DEBIAN_FRONTEND/)).toEqual([]);
  });

  it('keeps the seed cookie out of every command line, report and the result', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts);
    const cookie = cookieFor('lab1');
    const encoded = Buffer.from(cookie).toString('base64');

    const { result, shells, reports } = await create(cluster, lab);

    const visible = JSON.stringify({ commands: shells.commands.map((c) => c.command), reports, result });
    expect(visible).not.toContain(cookie);
    expect(visible).not.toContain(encoded);
    expect(shells.commands.filter((c) => c.stdin === encoded).map((c) => c.host)).toEqual(['lab2', 'lab3']);
  });

  it('fails naming the host and step when a node cannot resolve the seed, touching no node', async () => {
    const cluster = labCluster(3);
    const lab = new FakeRabbitLab(cluster.hosts, { lab2: { unresolved: ['lab1'] } });

    const run = create(cluster, lab);

    await expect(run).rejects.toMatchObject({
      code: 'preflight.unresolvable_peer',
      step: 'rabbit:preflight',
      host: 'lab2',
    });
    expect([...lab.nodes.values()].map((n) => [n.vm, n.starts, n.members.length])).toEqual([
      [true, 0, 1],
      [true, 0, 1],
      [true, 0, 1],
    ]);
  });
});
