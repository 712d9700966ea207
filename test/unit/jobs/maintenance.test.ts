import { describe, expect, it } from 'vitest';
import { clusterTeardown } from '../../../jobs/cluster-teardown.js';
import { nodeAdd } from '../../../jobs/node-add.js';
import { nodeRemove } from '../../../jobs/node-remove.js';
import { nodeReset } from '../../../jobs/node-reset.js';
import type { OperationDefinition } from '../../../src/operations/operation.js';
import { resolveCluster } from '../../../src/config/load.js';
import type { ResolvedCluster } from '../../../src/config/load.js';
import { WarrenError } from '../../../src/errors.js';
import type { MaintenanceResult } from '../../../src/operations/schema.js';
import { runOperation } from '../../../src/operations/run-operation.js';
import { FakeRabbitLab, cookieFor } from '../../support/fake-rabbit-lab.js';
import type { NodeSetup } from '../../support/fake-rabbit-lab.js';
import { CMD, cookieSha256 } from '../../support/expected-commands.js';
import { labConfig } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import { MemoryMembership, silentLogger } from '../../support/step-context.js';

/** Inventory lab1..lab4; cluster demo = lab1..lab3 seeded on lab1; lab4 is an inventory host only. */
const config = labConfig(4, { nodes: ['lab1', 'lab2', 'lab3'], seed: 'lab1' });
const demo = resolveCluster(config, 'demo');
const host = (name: string) => config.hosts.find((h) => h.name === name)!;

/** Commands that change a node (everything else only reads). */
const CHANGES =
  /stop_app|-q reset|start_app|forget_cluster_node|shutdown|rm -rf|join_cluster|base64 -d|service rabbitmq-server start|set_policy/;

const RESET = 'rabbitmqctl -q reset </dev/null';
const forget = (node: string) => `rabbitmqctl -q forget_cluster_node ${node} </dev/null`;
const QUORUM =
  'if command -v pgrep >/dev/null && ! pgrep -x beam.smp >/dev/null; ' +
  'then exit 69; fi; rabbitmq-diagnostics -q ' +
  'check_if_node_is_quorum_critical --formatter json </dev/null';
const WIPE = (node: string) =>
  `if pgrep -x beam.smp >/dev/null 2>&1; then echo "an Erlang VM runs: ` +
  `refusing to delete its data under it" >&2; exit 70; fi; runuser -u ` +
  `rabbitmq -- rm -rf -- /var/lib/rabbitmq/mnesia/${node} ` +
  `/var/lib/rabbitmq/mnesia/${node}-feature_flags`;

/** A formed demo cluster (lab1..3, ha-all policy in place) plus lab4 as a fresh standalone node. */
function formedLab(setups: Record<string, NodeSetup> = {}): FakeRabbitLab {
  const members = demo.hosts.map((h) => `rabbit@${h.name}`);
  const policies = [{ name: 'ha-all', pattern: '^(?!amq\\.).*', definition: { 'ha-mode': 'all' } }];
  const base: NodeSetup = { members, cookie: cookieFor('lab1'), policies };
  return new FakeRabbitLab(config.hosts, {
    lab1: { ...base, ...setups.lab1 },
    lab2: { ...base, ...setups.lab2 },
    lab3: { ...base, ...setups.lab3 },
    lab4: { ...setups.lab4 },
  });
}

async function run(
  definition: OperationDefinition<MaintenanceResult>,
  cluster: ResolvedCluster,
  lab: FakeRabbitLab,
  target: string | undefined,
  options: { completedSteps?: string[]; refuse?: Map<string, WarrenError>; membership?: MemoryMembership } = {},
) {
  const shells = new RecordingShells(config.hosts, lab.respond, options.refuse);
  const membership = options.membership ?? new MemoryMembership();
  const result = await runOperation({
    definition,
    cluster,
    ...(target ? { target: host(target) } : {}),
    membership,
    shells,
    options: { allowWipe: definition.operation === 'node.add' },
    logger: silentLogger,
    completedSteps: options.completedSteps ?? [],
    report: () => Promise.resolve(),
    saveCheckpoint: () => Promise.resolve(),
  });
  return { result, shells, membership, changes: shells.matching(CHANGES) };
}

async function refused(
  definition: OperationDefinition<MaintenanceResult>,
  cluster: ResolvedCluster,
  lab: FakeRabbitLab,
  target: string | undefined,
  options: { refuse?: Map<string, WarrenError> } = {},
) {
  const shells = new RecordingShells(config.hosts, lab.respond, options.refuse);
  const error = await runOperation({
    definition,
    cluster,
    ...(target ? { target: host(target) } : {}),
    membership: new MemoryMembership(),
    shells,
    options: { allowWipe: false },
    logger: silentLogger,
    completedSteps: [],
    report: () => Promise.resolve(),
    saveCheckpoint: () => Promise.resolve(),
  }).then(
    () => undefined,
    (e: unknown) => e as WarrenError,
  );
  return { error, changes: shells.matching(CHANGES), shells };
}

describe('node.reset', () => {
  it('stops, resets and starts the node: it is a blank single node, the other two still clustered', async () => {
    const lab = formedLab();
    const { result, changes, shells } = await run(nodeReset, demo, lab, 'lab3');
    expect(changes).toEqual([`lab3: ${CMD.stopApp}`, `lab3: ${RESET}`, `lab3: ${CMD.startApp}`]);
    expect(shells.commandsOn('lab3')).toContain(QUORUM);
    expect(lab.node('lab3').members).toEqual(['rabbit@lab3']);
    expect(lab.node('lab3').app).toBe(true);
    expect(lab.node('lab1').members).toEqual(['rabbit@lab1', 'rabbit@lab2']);
    expect(result.summary).toBe('lab3 reset: a blank single node; lab1, lab2 still clustered');
    expect(result.health?.headline).toBe('healthy');
    expect(result.health?.nodes.map((n) => n.node)).toEqual(['rabbit@lab1', 'rabbit@lab2']);
    expect(result.nodes).toEqual([{ host: 'lab3', outcome: 'reset: a blank single node, running' }]);
  });

  it('changes nothing when run again on the blank node (gates passed before)', async () => {
    const lab = formedLab();
    await run(nodeReset, demo, lab, 'lab3');
    const again = await run(nodeReset, demo, lab, 'lab3', { completedSteps: ['rabbit:safety-gates'] });
    expect(again.changes).toEqual([]);
    expect(again.result.steps.find((s) => s.id === 'rabbit:reset-node')?.state).toBe('skipped');
  });

  it('finishes a reset a dead worker left with the app stopped: reset and start_app, no stop_app', async () => {
    const lab = formedLab();
    lab.node('lab3').app = false;
    const { changes } = await run(nodeReset, demo, lab, 'lab3', { completedSteps: ['rabbit:safety-gates'] });
    expect(changes).toEqual([`lab3: ${RESET}`, `lab3: ${CMD.startApp}`]);
    expect(lab.node('lab3').members).toEqual(['rabbit@lab3']);
  });

  it('refuses the last running disk node before any command changes anything', async () => {
    const lab = formedLab();
    lab.node('lab2').app = false;
    lab.node('lab3').app = false;
    const { error, changes } = await refused(nodeReset, demo, lab, 'lab1');
    expect(error?.code).toBe('gate.refused');
    expect(error?.retryable).toBe(false);
    expect(error?.message).toMatch(/node\.last_running_disk: rabbit@lab1 is the last running disk node of demo/);
    expect(error?.message).toMatch(/cluster\.minority: only 0 of 3/);
    expect(changes).toEqual([]);
  });

  it('refuses a quorum-critical node, naming the queue', async () => {
    const lab = formedLab({ lab3: { quorumCritical: ['orders'] } });
    const { error, changes } = await refused(nodeReset, demo, lab, 'lab3');
    expect(error?.code).toBe('gate.refused');
    expect(error?.message).toContain("queue 'orders' in vhost '/'");
    expect(changes).toEqual([]);
  });

  it('refuses a node that is not a member, with node.unknown', async () => {
    const { error } = await refused(nodeReset, demo, formedLab(), 'lab4');
    expect(error?.code).toBe('node.unknown');
    expect(error?.hint).toBe('Members of demo: lab1, lab2, lab3.');
  });
});

describe('node.remove', () => {
  it('stops the node, a peer forgets it, it is recorded removed, reset and left stopped', async () => {
    const lab = formedLab();
    const { result, changes, membership } = await run(nodeRemove, demo, lab, 'lab3');
    expect(changes).toEqual([
      `lab3: ${CMD.stopApp}`,
      `lab1: ${forget('rabbit@lab3')}`,
      `lab3: ${RESET}`,
      `lab3: ${CMD.shutdown}`,
    ]);
    expect(membership.calls).toEqual(['removed lab3']);
    expect(lab.node('lab1').members).toEqual(['rabbit@lab1', 'rabbit@lab2']);
    expect(lab.node('lab3').members).toEqual(['rabbit@lab3']);
    expect(lab.node('lab3').vm).toBe(false);
    expect(result.health?.headline).toBe('healthy');
    expect(result.summary).toBe('lab3 removed from demo; lab1, lab2 remain');
    expect(result.nodes).toEqual([{ host: 'lab3', outcome: 'reset and stopped' }]);
  });

  it('changes nothing when run again', async () => {
    const lab = formedLab();
    await run(nodeRemove, demo, lab, 'lab3');
    const again = await run(nodeRemove, demo, lab, 'lab3', { completedSteps: ['rabbit:safety-gates'] });
    expect(again.changes).toEqual([]);
    expect(again.shells.matching(/data directory|mnesia/)).toEqual([
      `lab3: runuser -u rabbitmq -- sh -c 'if [ -d ` +
        `/var/lib/rabbitmq/mnesia/rabbit@lab3 ] && [ -n "$(ls -A ` +
        `/var/lib/rabbitmq/mnesia/rabbit@lab3 2>/dev/null)" ]; then echo data; ` +
        `else echo blank; fi'`,
    ]);
  });

  it('removes a node whose RabbitMQ is down: forgotten, then its data wiped offline', async () => {
    const lab = formedLab();
    Object.assign(lab.node('lab3'), { vm: false, app: false, vmCookie: null });
    const { changes, result } = await run(nodeRemove, demo, lab, 'lab3');
    expect(changes).toEqual([`lab1: ${forget('rabbit@lab3')}`, `lab3: ${WIPE('rabbit@lab3')}`]);
    expect(lab.node('lab3').members).toEqual(['rabbit@lab3']);
    expect(result.nodes).toEqual([{ host: 'lab3', outcome: 'data directory wiped (RabbitMQ was down); left stopped' }]);
  });

  it('removes an unreachable node on the survivors only, warning that it must be wiped before it returns', async () => {
    const lab = formedLab();
    lab.node('lab3').app = false;
    const refuse = new Map([
      [
        'lab3',
        new WarrenError('ssh.connect_timeout', 'connecting to lab3 timed out', { host: 'lab3', retryable: true }),
      ],
    ]);
    const { changes, result } = await run(nodeRemove, demo, lab, 'lab3', { refuse });
    expect(changes).toEqual([`lab1: ${forget('rabbit@lab3')}`]);
    expect(result.warnings).toEqual([
      expect.stringMatching(/lab3 did not answer: it was forgotten on the survivors only.*inconsistent_cluster/),
    ]);
  });

  it('refuses when the survivors would not be a majority', async () => {
    const lab = formedLab();
    lab.node('lab2').app = false;
    const { error, changes } = await refused(nodeRemove, demo, lab, 'lab3');
    expect(error?.message).toMatch(/cluster\.minority: only 1 of 2 node\(s\) would stay running/);
    expect(changes).toEqual([]);
  });
});

describe('node.add', () => {
  const withLab4 = resolveCluster(config, 'demo', { added: ['lab4'], removed: [] });

  it("joins the host with the seed's cookie and records it as added", async () => {
    const lab = formedLab();
    const { result, changes, membership } = await run(nodeAdd, withLab4, lab, 'lab4');
    // The seed's cookie goes to lab4 live (it is standalone and empty), then one join.
    expect(changes).toEqual([
      `lab4: ${CMD.switchCookieLive(cookieSha256(cookieFor('lab1')))}`,
      `lab4: ${CMD.stopApp}`,
      `lab4: ${CMD.joinSeed}`,
      `lab4: ${CMD.startApp}`,
    ]);
    expect(membership.calls).toEqual(['added lab4']);
    expect(lab.node('lab1').members).toEqual(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3', 'rabbit@lab4']);
    expect(result.health?.nodes.filter((n) => n.running)).toHaveLength(4);
    expect(result.summary).toBe('lab4 joined demo: 4 nodes');
  });

  it('changes nothing when run again', async () => {
    const lab = formedLab();
    await run(nodeAdd, withLab4, lab, 'lab4');
    const again = await run(nodeAdd, withLab4, lab, 'lab4', { completedSteps: ['rabbit:safety-gates'] });
    expect(again.changes).toEqual([]);
  });
});

describe('cluster.teardown', () => {
  it('resets every node, joiners first and the seed last, and clears the membership changes', async () => {
    const lab = formedLab();
    const { changes, membership, result } = await run(clusterTeardown, demo, lab, undefined);
    expect(changes).toEqual(
      ['lab2', 'lab3', 'lab1'].flatMap((h) => [`${h}: ${CMD.stopApp}`, `${h}: ${RESET}`, `${h}: ${CMD.startApp}`]),
    );
    for (const h of ['lab1', 'lab2', 'lab3']) expect(lab.node(h).members).toEqual([`rabbit@${h}`]);
    expect(membership.calls).toEqual(['cleared']);
    expect(result.health).toBeUndefined();
    expect(result.summary).toBe('demo torn down: lab1, lab2, lab3 are blank single nodes');
  });

  it('changes nothing when run again', async () => {
    const lab = formedLab();
    await run(clusterTeardown, demo, lab, undefined);
    const again = await run(clusterTeardown, demo, lab, undefined, { completedSteps: ['rabbit:safety-gates'] });
    expect(again.changes).toEqual([]);
  });

  it('refuses while a node cannot be reset', async () => {
    const lab = formedLab();
    Object.assign(lab.node('lab2'), { vm: false, app: false, vmCookie: null });
    const { error, changes } = await refused(clusterTeardown, demo, lab, undefined);
    expect(error?.code).toBe('gate.refused');
    expect(error?.message).toContain('lab2 (RabbitMQ down) cannot be reset');
    expect(changes).toEqual([]);
  });
});

describe('quorum queue members follow the membership (3.8+: here the 3.10-shaped lab)', () => {
  const LAB3 = ['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'];
  const withQueues = (members: string[]) => {
    const lab = formedLab();
    lab.quorumQueues.push(
      { vhost: '/', name: 'qq1', members: [...members], home: 'rabbit@lab1' },
      { vhost: '/', name: 'qq2', members: [...members], home: 'rabbit@lab1' },
    );
    return lab;
  };
  const membersOf = (lab: FakeRabbitLab) => lab.quorumQueues.map((q) => [q.name, [...q.members].sort()]);

  it('node reset shrinks the reset node away from every quorum queue on a survivor', async () => {
    const lab = withQueues(LAB3);
    const { shells } = await run(nodeReset, demo, lab, 'lab3');
    expect(membersOf(lab)).toEqual([
      ['qq1', ['rabbit@lab1', 'rabbit@lab2']],
      ['qq2', ['rabbit@lab1', 'rabbit@lab2']],
    ]);
    expect(shells.matching(/rabbitmq-queues/)).toEqual([`lab1: ${CMD.shrink('rabbit@lab3')}`]);
  });

  it('node add grows replicas onto the new node', async () => {
    const lab = withQueues(LAB3);
    const cluster = resolveCluster(config, 'demo', { added: ['lab4'], removed: [] });
    const { result, shells } = await run(nodeAdd, cluster, lab, 'lab4');
    expect(membersOf(lab)).toEqual([
      ['qq1', [...LAB3, 'rabbit@lab4']],
      ['qq2', [...LAB3, 'rabbit@lab4']],
    ]);
    expect(shells.matching(/rabbitmq-queues/)).toEqual([`lab1: ${CMD.grow('rabbit@lab4')}`]);
    expect(result.steps.find((s) => s.id === 'rabbit:quorum-members')?.state).toBe('done');
  });

  it('node remove leaves no replica on the removed node (the forget takes them); verify finds none', async () => {
    const lab = withQueues(LAB3);
    const { result } = await run(nodeRemove, demo, lab, 'lab3');
    expect(membersOf(lab)).toEqual([
      ['qq1', ['rabbit@lab1', 'rabbit@lab2']],
      ['qq2', ['rabbit@lab1', 'rabbit@lab2']],
    ]);
    expect(result.steps.find((s) => s.id === 'rabbit:quorum-members')?.state).toBe('skipped');
  });

  it("the survivors' verify fails, naming the queue, when a replica is still on a node that left", async () => {
    const lab = withQueues(LAB3);
    const shells = new RecordingShells(config.hosts, lab.respond);
    lab.node('lab3').app = false;
    lab.node('lab1').members = ['rabbit@lab1', 'rabbit@lab2'];
    lab.node('lab2').members = ['rabbit@lab1', 'rabbit@lab2'];
    const error = await runOperation({
      definition: nodeReset,
      cluster: demo,
      target: host('lab3'),
      membership: new MemoryMembership(),
      shells,
      options: { allowWipe: false },
      logger: silentLogger,
      // Everything but the verify already ran in an earlier attempt (which left the replicas behind).
      completedSteps: ['rabbit:safety-gates', 'rabbit:reset-node', 'rabbit:quorum-members'],
      report: () => Promise.resolve(),
      saveCheckpoint: () => Promise.resolve(),
    }).then(
      () => undefined,
      (e: unknown) => e as WarrenError,
    );
    expect(error).toMatchObject({
      code: 'verify.failed',
      retryable: true,
      message: expect.stringContaining(
        'quorum queue qq1 in vhost / keeps a replica on rabbit@lab3 (not a cluster node)',
      ) as unknown,
    });
  });
});

describe('under Khepri (4.3-shaped lab): each leave counts once a majority of the nodes left confirms it', () => {
  const KHEPRI = '4.3.6-1';
  const khepriLab = () =>
    formedLab({ lab1: { packageVersion: KHEPRI }, lab2: { packageVersion: KHEPRI }, lab3: { packageVersion: KHEPRI } });

  it(
    'teardown asks the metadata store after each reset, on the nodes still ' + 'clustered, and not after the seed',
    async () => {
      const { shells } = await run(clusterTeardown, demo, khepriLab(), undefined);
      const order = shells
        .matching(/metadata_store_status|-q reset/)
        .map((l) => l.replace(CMD.metadataStoreStatus, 'metadata').replace(RESET, 'reset'));
      expect(order).toEqual(['lab2: reset', 'lab1: metadata', 'lab3: reset', 'lab1: metadata', 'lab1: reset']);
    },
  );

  it('node reset is confirmed from a survivor before the step counts, then verified again', async () => {
    const { shells, result } = await run(nodeReset, demo, khepriLab(), 'lab3');
    expect(shells.matching(/metadata_store_status|-q reset/).map((l) => l.split(':')[0])).toEqual([
      'lab3',
      'lab1',
      'lab1',
    ]);
    expect(result.health?.headline).toBe('healthy');
  });
});
