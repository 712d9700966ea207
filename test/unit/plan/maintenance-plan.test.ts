import { describe, expect, it } from 'vitest';
import { planOperation } from '../../../src/plan.js';
import { labConfig } from '../../support/inventory.js';

const config = labConfig(4, { nodes: ['lab1', 'lab2', 'lab3'], seed: 'lab1' });
const lines = (plan: ReturnType<typeof planOperation>) => plan.map((p) => `${p.step} ${p.host}: ${p.command}`);

describe('dry runs of the destructive operations', () => {
  it(
    'node reset: the gates read every member, then stop_app, reset, ' +
      'start_app on the node only (and, under Khepri, the confirmation on ' +
      'the seed)',
    () => {
      const plan = lines(planOperation(config, 'node.reset', 'demo', 'lab3'));
      expect(plan.filter((l) => l.startsWith('rabbit:reset-node'))).toEqual([
        'rabbit:reset-node lab3: if command -v pgrep >/dev/null && ! pgrep -x ' +
          'beam.smp >/dev/null; then exit 69; fi; rabbitmqctl cluster_status ' +
          '--formatter json </dev/null',
        'rabbit:reset-node lab3: rabbitmqctl -q stop_app </dev/null',
        'rabbit:reset-node lab3: rabbitmqctl -q reset </dev/null',
        'rabbit:reset-node lab3: rabbitmqctl -q start_app </dev/null',
        'rabbit:reset-node lab1: rabbitmq-diagnostics -q metadata_store_status --formatter json </dev/null',
      ]);
      expect(plan.filter((l) => l.startsWith('rabbit:safety-gates')).map((l) => l.split(':')[1])).toEqual([
        'safety-gates lab1',
        'safety-gates lab2',
        'safety-gates lab3',
        'safety-gates lab3',
      ]);
    },
  );

  it('node remove: the seed forgets the node, which is then reset and shut down', () => {
    const plan = lines(planOperation(config, 'node.remove', 'demo', 'lab3'));
    expect(plan).toContain('rabbit:forget-node lab1: rabbitmqctl -q forget_cluster_node rabbit@lab3 </dev/null');
    expect(plan).toContain('rabbit:wipe-node lab3: rabbitmqctl -q shutdown </dev/null');
  });

  it('node remove of the seed: the next member forgets it', () => {
    expect(lines(planOperation(config, 'node.remove', 'demo', 'lab1'))).toContain(
      'rabbit:forget-node lab2: rabbitmqctl -q forget_cluster_node rabbit@lab1 </dev/null',
    );
  });

  it('node add: the create steps with the new host in, joining the seed', () => {
    const plan = lines(planOperation(config, 'node.add', 'demo', 'lab4'));
    expect(plan).toContain('rabbit:join lab4: rabbitmqctl -q join_cluster rabbit@lab1 </dev/null');
    expect(plan.some((l) => l.startsWith('rabbit:install lab4'))).toBe(true);
  });

  it('cluster teardown: joiners first, the seed last', () => {
    const resets = planOperation(config, 'cluster.teardown', 'demo')
      .filter((p) => p.command === 'rabbitmqctl -q reset </dev/null')
      .map((p) => p.host);
    expect(resets).toEqual(['lab2', 'lab3', 'lab1']);
  });

  it('applies membership changes and refuses a node the operation cannot act on', () => {
    const resets = planOperation(config, 'cluster.teardown', 'demo', undefined, {
      membership: { added: ['lab4'], removed: ['lab2'] },
    })
      .filter((p) => p.command === 'rabbitmqctl -q reset </dev/null')
      .map((p) => p.host);
    expect(resets).toEqual(['lab3', 'lab4', 'lab1']);
    expect(() => planOperation(config, 'node.reset', 'demo', 'lab4')).toThrow(
      expect.objectContaining({ code: 'node.unknown' }),
    );
    expect(() => planOperation(config, 'node.add', 'demo', 'lab2')).toThrow(
      expect.objectContaining({ code: 'node.unknown' }),
    );
  });
});
