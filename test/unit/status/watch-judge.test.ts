import { describe, expect, it } from 'vitest';
import { evaluateHealth, parseClusterStatus, unreachableHealth } from '../../../src/rabbit/cluster-status.js';
import type { ClusterHealth } from '../../../src/rabbit/cluster-status.js';
import { knownHealth } from '../../../src/status/read-cluster-status.js';
import { judgeHealth } from '../../../src/status/watch-judge.js';
import type { WatchState } from '../../../src/status/watch-judge.js';
import { fixture } from '../../support/fixtures.js';

const LAB = new Map(['rabbit@lab1', 'rabbit@lab2', 'rabbit@lab3'].map((n) => [n, n.replace('rabbit@', '')]));
const T4 = new Map(['rabbit@t4n1', 'rabbit@t4n2', 'rabbit@t4n3'].map((n) => [n, n.replace('rabbit@', '')]));
const SETTINGS = { maintenanceMaxSeconds: 60 };
const T0 = Date.parse('2026-12-01T12:00:00Z');

const read = (path: string, expected = LAB, from = 'lab1'): ClusterHealth =>
  evaluateHealth(expected === LAB ? 'lab' : 't4', parseClusterStatus(fixture(path), from), expected, from);

/** Runs readings in order, one period (2 s) apart; returns each one's alerts as "fault key" / "recovery key". */
function run(readings: ClusterHealth[], start?: WatchState): { alerts: string[][]; state: WatchState | undefined } {
  let state = start;
  const alerts = readings.map((health, i) => {
    const judged = judgeHealth(state, health, T0 + i * 2000, SETTINGS);
    state = judged.state;
    return judged.alerts.map((a) => `${a.type} ${a.fault.key}`);
  });
  return { alerts, state };
}

describe('judgeHealth (the watch change detector) on recorded cluster_status', () => {
  it('a healthy 3.10 cluster: no fault, no alert, gauges counted', () => {
    const { alerts, state } = run([read('rabbitmq-3.10/cluster_status.clean.json')]);
    expect(alerts).toEqual([[]]);
    expect(state?.faults).toEqual({});
    expect(state?.gauges).toEqual({
      nodesRunning: 3,
      nodesExpected: 3,
      partitions: 0,
      alarms: 0,
      underReplicatedQueues: 0,
    });
  });

  it('a stopped node: one alert, nothing while it holds, one recovery when it is back', () => {
    const down = read('rabbitmq-3.10/cluster_status.lab3-rabbit-stopped.json');
    const clean = read('rabbitmq-3.10/cluster_status.clean.json');
    const { alerts, state } = run([clean, down, down, down, clean, clean]);
    expect(alerts).toEqual([[], ['fault node:rabbit@lab3'], [], [], ['recovery node:rabbit@lab3'], []]);
    expect(state?.faults).toEqual({});
  });

  it('the held fault keeps the time it was first seen and its evidence', () => {
    const down = read('rabbitmq-3.10/cluster_status.lab3-rabbit-stopped.json');
    const first = judgeHealth(undefined, down, T0, SETTINGS);
    const again = judgeHealth(first.state, down, T0 + 60_000, SETTINGS);
    expect(again.alerts).toEqual([]);
    expect(again.state.faults['node:rabbit@lab3']).toEqual(first.state.faults['node:rabbit@lab3']);
    expect(first.state.faults['node:rabbit@lab3'].since).toBe(new Date(T0).toISOString());
  });

  it('3.10 after a silent partition healed: lab3 still not running in lab1 view, and a partition', () => {
    const { alerts, state } = run([read('rabbitmq-3.10/cluster_status.partitioned.lab1-view.json')]);
    expect(alerts[0].sort()).toEqual(['fault node:rabbit@lab3', 'fault partition']);
    expect(state?.faults.partition.evidence).toEqual([
      'rabbit@lab1 is partitioned from rabbit@lab3',
      'rabbit@lab2 is partitioned from rabbit@lab3',
    ]);
    expect(state?.gauges.partitions).toBe(2);
  });

  it('a memory alarm (set_vm_memory_high_watermark 0.0001 on 3.10 and 4.x): one alarm fault per node', () => {
    for (const path of [
      'rabbitmq-3.10/cluster_status.memory-alarm.json',
      'rabbitmq-4.0/cluster_status.memory-alarm.json',
      'rabbitmq-4.3/cluster_status.memory-alarm.json',
    ]) {
      const status = parseClusterStatus(fixture(path), 'h');
      const node = status.running_nodes[0];
      const health = evaluateHealth('one', status, new Map([[node, 'h']]), 'h');
      const judged = judgeHealth(undefined, health, T0, SETTINGS);
      expect(
        judged.alerts.map((a) => `${a.type} ${a.fault.kind} ${a.fault.node}`),
        path,
      ).toEqual([`fault alarm ${node}`]);
      expect(judged.alerts[0].fault.summary).toMatch(/^memory alarm on /);
      expect(judged.state.gauges.alarms).toBe(1);
    }
  });

  it('4.0 with a member VM down: the node fault only', () => {
    const { alerts } = run([read('rabbitmq-4.0/cluster_status.t4n3-vm-down.json', T4, 't4n1')]);
    expect(alerts).toEqual([['fault node:rabbit@t4n3']]);
  });

  it('4.3: a node forgotten while down and back standalone is "not a member", not a healthy 2-node cluster', () => {
    const { state, alerts } = run([
      read('rabbitmq-4.3/cluster_status.t4n1-after-forgotten-node-started.json', T4, 't4n1'),
    ]);
    expect(alerts).toEqual([['fault node:rabbit@t4n3']]);
    expect(state?.faults['node:rabbit@t4n3'].summary).toMatch(/not a member/);
  });

  it('a whole cluster dark: ONE alert, held every period, and the node faults neither repeated nor recovered', () => {
    const down = read('rabbitmq-3.10/cluster_status.lab3-rabbit-stopped.json');
    const dark = unreachableHealth('lab', LAB, ['lab1: ssh refused', 'lab2: ssh refused', 'lab3: ssh refused']);
    const clean = read('rabbitmq-3.10/cluster_status.clean.json');
    const { alerts } = run([down, dark, dark, dark, dark, down, clean]);
    expect(alerts).toEqual([
      ['fault node:rabbit@lab3'],
      ['fault dark'],
      [],
      [],
      [],
      ['recovery dark'],
      ['recovery node:rabbit@lab3'],
    ]);
  });

  it('a partial reading (cluster_status held up) opens a fault for the silent host and recovers nothing', () => {
    const down = read('rabbitmq-3.10/cluster_status.lab3-rabbit-stopped.json');
    const answers = (silent: string[]) =>
      new Map(
        ['lab1', 'lab2', 'lab3'].map((h) => [
          h,
          silent.includes(h) ? { state: 'failed' as const, reason: 'timed out' } : { state: 'answering' as const },
        ]),
      );
    const partialSilent = knownHealth('lab', LAB, answers(['lab3']), 'cluster_status still reading', 8000);
    const partialAll = knownHealth('lab', LAB, answers([]), 'cluster_status still reading', 8000);
    const clean = read('rabbitmq-3.10/cluster_status.clean.json');
    const { alerts } = run([clean, partialSilent, partialAll, down, clean]);
    expect(alerts).toEqual([[], ['fault node:rabbit@lab3'], [], [], ['recovery node:rabbit@lab3']]);
  });

  it('a node under maintenance is alerted on only past maintenanceMaxSeconds, once', () => {
    const clean = read('rabbitmq-3.10/cluster_status.clean.json');
    const drained: ClusterHealth = {
      ...clean,
      nodes: clean.nodes.map((n) => (n.node === 'rabbit@lab2' ? { ...n, maintenance: 'under maintenance' } : n)),
    };
    let state: WatchState | undefined;
    const at = (seconds: number, health: ClusterHealth) => {
      const judged = judgeHealth(state, health, T0 + seconds * 1000, SETTINGS);
      state = judged.state;
      return judged.alerts.map((a) => `${a.type} ${a.fault.key}`);
    };
    expect(at(0, drained)).toEqual([]);
    expect(at(30, drained)).toEqual([]);
    expect(at(61, drained)).toEqual(['fault maintenance:rabbit@lab2']);
    expect(at(90, drained)).toEqual([]);
    expect(at(100, clean)).toEqual(['recovery maintenance:rabbit@lab2']);
    expect(state?.maintenanceSince).toEqual({});
  });

  it('quorum queues missing a member on a running node are a fault; missing a down node they are not', () => {
    const clean = read('rabbitmq-4.0/cluster_status.3nodes.json', T4, 't4n1');
    const lost: ClusterHealth = {
      ...clean,
      underReplicatedQueues: [
        { vhost: '/', name: 'q1', online: ['rabbit@t4n1', 'rabbit@t4n2'], missing: ['rabbit@t4n3'] },
      ],
    };
    const judged = judgeHealth(undefined, lost, T0, SETTINGS);
    expect(judged.alerts.map((a) => a.fault.key)).toEqual(['quorum']);
    expect(judged.alerts[0].fault.evidence).toEqual(['/ q1: no replica on rabbit@t4n3']);
    const down = read('rabbitmq-4.0/cluster_status.t4n3-vm-down.json', T4, 't4n1');
    const withDown = judgeHealth(
      undefined,
      { ...down, underReplicatedQueues: lost.underReplicatedQueues },
      T0,
      SETTINGS,
    );
    expect(withDown.alerts.map((a) => a.fault.key)).toEqual(['node:rabbit@t4n3']);
    expect(withDown.state.gauges.underReplicatedQueues).toBe(1);
  });
});
