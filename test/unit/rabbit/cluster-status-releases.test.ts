import { describe, expect, it } from 'vitest';
import { evaluateHealth, parseClusterStatus } from '../../../src/rabbit/cluster-status.js';
import { fixture } from '../../support/fixtures.js';

const T4 = new Map(['rabbit@t4n1', 'rabbit@t4n2', 'rabbit@t4n3'].map((n) => [n, n.replace('rabbit@', '')]));

describe('cluster_status --formatter json from real 4.0.5 and 4.3.6 nodes', () => {
  it.each([
    ['rabbitmq-4.0/cluster_status.3nodes.json', '4.0.5'],
    ['rabbitmq-4.0/cluster_status.khepri-opt-in.json', '4.0.5'],
    ['rabbitmq-4.3/cluster_status.3nodes.json', '4.3.6'],
  ])('%s: three running disk nodes, healthy, versions per node', (path, version) => {
    const status = parseClusterStatus(fixture(path), 't4n1');
    const health = evaluateHealth('t4', status, T4, 't4n1');
    expect(health.headline).toBe('healthy');
    expect(health.nodes.map((n) => [n.node, n.running, n.rabbitmqVersion, n.maintenance])).toEqual(
      [...T4.keys()].map((n) => [n, true, version, 'not under maintenance']),
    );
  });

  it('4.3 has no ram_nodes key at all', () => {
    expect(Object.keys(JSON.parse(fixture('rabbitmq-4.3/cluster_status.3nodes.json')) as object)).not.toContain(
      'ram_nodes',
    );
    expect(
      parseClusterStatus(fixture('rabbitmq-4.3/cluster_status.standalone.json'), 't4n1').ram_nodes,
    ).toBeUndefined();
  });

  it('4.0 with a member VM down: still a disk node, not running, so degraded naming it', () => {
    const health = evaluateHealth(
      't4',
      parseClusterStatus(fixture('rabbitmq-4.0/cluster_status.t4n3-vm-down.json'), 't4n1'),
      T4,
      't4n1',
    );
    expect(health.headline).toBe('degraded');
    expect(health.problems).toEqual(['rabbit@t4n3 is stopped']);
  });
});
