import { describe, expect, it } from 'vitest';
import { judgeUpgrade, seriesOf } from '../../../src/rabbit/upgrade-path.js';
import type { NodeReading, ReadinessFacts } from '../../../src/rabbit/upgrade-path.js';

const node = (i: number, version: string, more: Partial<NodeReading> = {}): NodeReading => ({
  node: `rabbit@lab${i}`,
  host: `lab${i}`,
  rabbitmqVersion: version,
  erlangVersion: '27.3.4.1',
  flagsNotEnabled: [],
  deprecatedInUse: version.startsWith('3.1') && !version.startsWith('3.13') ? 'unsupported' : [],
  alarms: [],
  ...more,
});
const facts = (nodes: NodeReading[], more: Partial<ReadinessFacts> = {}): ReadinessFacts => ({
  nodes,
  mirroringPolicies: [],
  underReplicated: [],
  ...more,
});
const three = (version: string, more: Partial<NodeReading> = {}): NodeReading[] =>
  [1, 2, 3].map((i) => node(i, version, more));
const HA_ALL = { vhost: '/', name: 'ha-all', pattern: '.*', haMode: 'all' };

describe('judgeUpgrade: the path RabbitMQ supports, and what blocks it', () => {
  it('reads the series of a version, and nothing of what is not one', () => {
    expect(seriesOf('3.10.8')).toBe('3.10');
    expect(seriesOf('4.0.5')).toBe('4.0');
    expect(seriesOf('4.3')).toBe('4.3');
    expect(seriesOf('3.9.29')).toBeUndefined();
    expect(seriesOf('5.0.0')).toBeUndefined();
    expect(seriesOf('x.y')).toBeUndefined();
  });

  it('without --to: the next series, ready when nothing blocks', () => {
    const verdict = judgeUpgrade(facts(three('4.0.5')));
    expect(verdict).toMatchObject({
      from: '4.0',
      to: '4.1',
      path: 'rolling',
      hops: ['4.1'],
      blockers: [],
      ready: true,
    });
    expect(verdict.summary).toBe('rolling upgrade 4.0 → 4.1: one node at a time');
  });

  it('4.3 is the newest series warren knows: nothing to upgrade to, yet the flags not enabled still show', () => {
    const verdict = judgeUpgrade(facts(three('4.3.6', { flagsNotEnabled: ['rabbitmq_4.3.0'] })));
    expect(verdict).toMatchObject({ from: '4.3', path: 'none', hops: [], ready: false });
    expect(verdict.summary).toMatch(/newest series/);
    expect(verdict.blockers.map((b) => b.kind)).toEqual(['feature-flags']);
  });

  it('one series at a time: 3.10 → 3.12 is two rolling upgrades', () => {
    const verdict = judgeUpgrade(facts(three('3.10.8')), '3.12');
    expect(verdict).toMatchObject({ from: '3.10', to: '3.12', path: 'rolling', hops: ['3.11', '3.12'], ready: true });
    expect(verdict.summary).toBe(
      'rolling upgrade, one series at a time: 3.10 → 3.11 → 3.12 (2 upgrades; enable all feature flags after each)',
    );
  });

  it(
    '3.10 with the ha-all policy, --to 4.0: blue/green, and the mirroring ' +
      'policy named as the 4.0 blocker with what to do',
    () => {
      const verdict = judgeUpgrade(facts(three('3.10.8'), { mirroringPolicies: [HA_ALL] }), '4.0');
      expect(verdict).toMatchObject({
        from: '3.10',
        to: '4.0',
        path: 'blue-green',
        hops: ['3.11', '3.12', '3.13', '4.0'],
        ready: false,
      });
      expect(verdict.summary).toMatch(
        /^3\.10 → 4\.0 crosses from 3\.x to 4\.x beyond one series: blue\/green .* or in place one series at a time: 3\.10 → 3\.11 → 3\.12 → 3\.13 → 4\.0$/,
      );
      expect(verdict.blockers).toEqual([
        {
          kind: 'mirroring',
          what: 'classic queue mirroring policies block 4.0 (4.0 removed mirroring): ha-all (vhost /, ha-mode all)',
          fix: expect.stringContaining('rabbitmqctl clear_policy --vhost <vhost> <name>') as unknown,
        },
      ]);
    },
  );

  it('the same policy on a 3.10 → 3.11 step only warns: mirroring still works there', () => {
    const verdict = judgeUpgrade(facts(three('3.10.8'), { mirroringPolicies: [HA_ALL] }), '3.11');
    expect(verdict.ready).toBe(true);
    expect(verdict.warnings).toEqual([
      'classic queue mirroring policies (ha-all (vhost /, ha-mode all)) will ' +
        'block the step to 4.0: plan the move to quorum queues',
    ]);
  });

  it('3.13 → 4.0 is one rolling upgrade, but needs every 3.13 flag enabled and no mirroring in use', () => {
    const nodes = three('3.13.7', {
      flagsNotEnabled: ['message_containers'],
      deprecatedInUse: ['classic_queue_mirroring'],
    });
    const verdict = judgeUpgrade(facts(nodes, { mirroringPolicies: [HA_ALL] }), '4.0.5');
    expect(verdict).toMatchObject({ from: '3.13', to: '4.0.5', path: 'rolling', hops: ['4.0'], ready: false });
    expect(verdict.blockers.map((b) => b.kind)).toEqual(['feature-flags', 'mirroring', 'deprecated-features']);
    expect(verdict.blockers[0]).toMatchObject({
      what: 'stable feature flags not enabled: message_containers (on rabbit@lab1, rabbit@lab2, rabbit@lab3)',
      fix: expect.stringContaining('rabbitmqctl enable_feature_flag all') as unknown,
    });
    expect(verdict.blockers[2].what).toBe(
      'deprecated features 4.0 removed are in use: classic_queue_mirroring (on rabbit@lab1, rabbit@lab2, rabbit@lab3)',
    );
  });

  it('4.0 → 4.3 is rolling, three hops (no blue/green within 4.x); other deprecated features in use only warn', () => {
    const verdict = judgeUpgrade(facts(three('4.0.5', { deprecatedInUse: ['transient_nonexcl_queues'] })), '4.3');
    expect(verdict).toMatchObject({ path: 'rolling', hops: ['4.1', '4.2', '4.3'], ready: true });
    expect(verdict.warnings).toEqual([
      'deprecated features in use: transient_nonexcl_queues: a later version may refuse them',
    ]);
  });

  it('a patch release of the same series is one rolling upgrade', () => {
    expect(judgeUpgrade(facts(three('4.0.5')), '4.0.9')).toMatchObject({
      from: '4.0',
      path: 'rolling',
      hops: ['4.0'],
      ready: true,
    });
  });

  it('refuses a downgrade and a series it does not know, saying what to name instead', () => {
    const down = judgeUpgrade(facts(three('4.0.5')), '3.13');
    expect(down).toMatchObject({ path: 'none', ready: false });
    expect(down.blockers).toEqual([
      {
        kind: 'target',
        what: 'a downgrade from 4.0 to 3.13',
        fix: expect.stringMatching(/does not downgrade/) as unknown,
      },
    ]);
    expect(judgeUpgrade(facts(three('4.0.5')), '5.0').blockers[0]).toMatchObject({
      kind: 'target',
      fix: 'name a release series such as 4.0, or a version such as 4.0.5',
    });
  });

  it(
    'alarms, under-replicated quorum queues, a mixed cluster and a node ' + 'not read each block, with the node named',
    () => {
      const nodes = [
        node(1, '4.0.5', { alarms: ['memory'] }),
        node(2, '4.1.2'),
        {
          node: 'rabbit@lab3',
          host: 'lab3',
          flagsNotEnabled: [],
          deprecatedInUse: [],
          alarms: [],
          unreadable: 'RabbitMQ is not running (no Erlang VM)',
        } satisfies NodeReading,
      ];
      const verdict = judgeUpgrade(
        facts(nodes, {
          underReplicated: [
            { vhost: '/', name: 'orders', online: ['rabbit@lab1', 'rabbit@lab2'], missing: ['rabbit@lab3'] },
          ],
        }),
      );
      expect(verdict.from).toBe('4.0');
      expect(verdict.blockers.map((b) => [b.kind, b.what])).toEqual([
        ['unreadable', 'rabbit@lab3 could not be read: RabbitMQ is not running (no Erlang VM)'],
        ['alarms', 'alarms: rabbit@lab1 (memory)'],
        ['under-replicated', 'quorum queues under-replicated: orders (vhost /, none on rabbit@lab3)'],
        ['mixed-versions', 'the nodes run different series (rabbit@lab1 4.0.5, rabbit@lab2 4.1.2)'],
      ]);
      expect(verdict.ready).toBe(false);
    },
  );

  it('is linear in what hosts print: 10 000 under-replicated queues name five and count the rest', () => {
    const queues = Array.from({ length: 10_000 }, (_, i) => ({
      vhost: '/',
      name: `q${i}`,
      online: ['rabbit@lab1'],
      missing: ['rabbit@lab2'],
    }));
    const started = performance.now();
    const verdict = judgeUpgrade(facts(three('4.0.5'), { underReplicated: queues }));
    expect(performance.now() - started).toBeLessThan(200);
    expect(verdict.blockers[0].what).toMatch(/q4 \(vhost \/, none on rabbit@lab2\) and 9995 more$/);
  });
});
