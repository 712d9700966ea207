import { describe, expect, it } from 'vitest';
import { parseJsonOutput } from '../../../src/rabbit/cluster-status.js';
import { lowestVersion } from '../../../src/rabbit/migration-queries.js';
import { Policies } from '../../../src/rabbit/policies.js';
import {
  MAX_DELETE_QUEUES,
  MAX_QUEUES_PER_VHOST,
  QueueRows,
  VhostRows,
  buildMigrationPlan,
  classicQueues,
  clearPolicyCommand,
  deletableQueues,
  deleteQueueCommand,
  erlangBinary,
  listVhostQueuesCommand,
  osloSettings,
  policyChanges,
  rewritePolicyCommand,
  setVhostQuorumDefaultCommand,
} from '../../../src/rabbit/quorum-migration.js';
import type { MigrationFacts } from '../../../src/rabbit/quorum-migration.js';
import { isWarrenError } from '../../../src/errors.js';

// Shapes as the lab's nodes printed them (3.10.8: definition as a JSON string, "" for a field a queue type lacks,
// "undefined" for a vhost without a default queue type).
const POLICIES_310 = parseJsonOutput(
  Policies,
  JSON.stringify([
    { vhost: '/', name: 'ha-all', pattern: '.*', 'apply-to': 'all', definition: '{"ha-mode":"all"}', priority: 0 },
    {
      vhost: '/',
      name: 'ttl-and-ha',
      pattern: '^t\\.',
      'apply-to': 'queues',
      definition: '{"ha-mode":"exactly","ha-params":2,"message-ttl":600000}',
      priority: 3,
    },
    { vhost: '/', name: 'ttl-only', pattern: '^x', 'apply-to': 'queues', definition: '{"message-ttl":1}', priority: 1 },
  ]),
  'lab1',
  'list_policies',
);
const QUEUES_310 = parseJsonOutput(
  QueueRows,
  JSON.stringify([
    { name: 'q.keep', type: 'classic', messages: 3, consumers: 0 },
    { name: 'q.busy', type: 'classic', messages: 1, consumers: 1 },
    { name: 'qq', type: 'quorum', messages: '', consumers: '' },
    { name: 'a.q', type: 'classic', messages: 0, consumers: 0 },
  ]),
  'lab1',
  'list_queues',
);

const facts310: MigrationFacts = {
  cluster: 'demo',
  readFrom: 'lab1',
  rabbitmqVersion: '3.10.8',
  vhosts: [
    { name: 'tenant', defaultQueueType: 'undefined', policies: [], queues: [] },
    { name: '/', defaultQueueType: 'undefined', policies: POLICIES_310, queues: QUEUES_310 },
  ],
};

describe('buildMigrationPlan', () => {
  it('3.10.8: clears a policy of only ha-* keys, rewrites one with others, lists classic queues sorted', () => {
    const plan = buildMigrationPlan(facts310);
    expect(plan.vhosts.map((v) => v.vhost)).toEqual(['/', 'tenant']);
    const root = plan.vhosts[0];
    expect(root.setDefault).toBe(true);
    expect(root.policies).toEqual([
      { kind: 'clear', vhost: '/', name: 'ha-all', pattern: '.*', removed: ['ha-mode'] },
      {
        kind: 'rewrite',
        vhost: '/',
        name: 'ttl-and-ha',
        pattern: '^t\\.',
        removed: ['ha-mode', 'ha-params'],
        priority: 3,
        applyTo: 'queues',
        definition: { 'message-ttl': 600000 },
      },
    ]);
    expect(root.classicQueues).toEqual([
      { vhost: '/', name: 'a.q', messages: 0, consumers: 0 },
      { vhost: '/', name: 'q.busy', messages: 1, consumers: 1 },
      { vhost: '/', name: 'q.keep', messages: 3, consumers: 0 },
    ]);
    // 2 policies + 2 vhosts without quorum as their default
    expect(plan.changes).toBe(4);
    expect(plan.classicQueueCount).toBe(3);
  });

  it('4.x upgraded off mirroring: no policy, classic default on every vhost, classic queues stay listed', () => {
    const plan = buildMigrationPlan({
      ...facts310,
      rabbitmqVersion: '4.0.5',
      vhosts: [{ name: '/', defaultQueueType: 'classic', policies: [], queues: QUEUES_310 }],
    });
    expect(plan.changes).toBe(1);
    expect(plan.vhosts[0].policies).toEqual([]);
    expect(plan.vhosts[0].defaultQueueType).toBe('classic');
    expect(plan.classicQueueCount).toBe(3);
  });

  it('already migrated: no change; an absent default_queue_type reads as undefined', () => {
    const done = buildMigrationPlan({
      ...facts310,
      vhosts: [{ name: '/', defaultQueueType: 'quorum', policies: [], queues: [] }],
    });
    expect(done.changes).toBe(0);
    const absent = buildMigrationPlan({ ...facts310, vhosts: [{ name: '/', policies: [], queues: [] }] });
    expect(absent.vhosts[0]).toMatchObject({ defaultQueueType: 'undefined', setDefault: true });
  });
});

describe('policyChanges', () => {
  it('leaves a policy without ha-* keys alone; defaults a missing priority and apply-to', () => {
    const policies = parseJsonOutput(
      Policies,
      JSON.stringify([{ name: 'p', pattern: '.*', definition: { 'ha-mode': 'all', 'max-length': 5 } }]),
      'h',
      'list_policies',
    );
    expect(policyChanges('v', policies)).toEqual([
      {
        kind: 'rewrite',
        vhost: 'v',
        name: 'p',
        pattern: '.*',
        removed: ['ha-mode'],
        priority: 0,
        applyTo: 'all',
        definition: { 'max-length': 5 },
      },
    ]);
    expect(policyChanges('/', POLICIES_310.slice(2))).toEqual([]);
  });
});

describe('osloSettings', () => {
  it('names the oslo.messaging release of each option and what RabbitMQ it needs', () => {
    expect(osloSettings('3.10.8').map((s) => [s.option, s.value, s.osloMessaging, s.rabbitmq, s.supported])).toEqual([
      ['rabbit_quorum_queue', 'true', '12.13.0 (Yoga)', '3.8', true],
      ['rabbit_transient_quorum_queue', 'true', '14.7.0 (2024.1 Caracal)', '3.8', true],
      ['rabbit_stream_fanout', 'true', '14.7.0 (2024.1 Caracal)', '3.9', true],
      ['rabbit_ha_queues', 'false', 'any', 'any', true],
    ]);
    // streams need 3.9
    expect(osloSettings('3.8.35').find((s) => s.option === 'rabbit_stream_fanout')?.supported).toBe(false);
    expect(osloSettings('3.8.35').find((s) => s.option === 'rabbit_quorum_queue')?.supported).toBe(true);
  });
});

describe('deletableQueues', () => {
  it('leaves out queues with consumers and names at most MAX_DELETE_QUEUES, counting the rest', () => {
    const many = Array.from({ length: MAX_DELETE_QUEUES + 7 }, (_, i) => ({
      name: `q${String(i).padStart(4, '0')}`,
      type: 'classic',
      messages: i,
      consumers: i === 3 ? 2 : 0,
    }));
    const plan = buildMigrationPlan({ ...facts310, vhosts: [{ name: '/', policies: [], queues: many }] });
    const { queues, withConsumers, over } = deletableQueues(plan);
    expect(queues).toHaveLength(MAX_DELETE_QUEUES);
    expect(queues.some((q) => q.name === 'q0003')).toBe(false);
    expect(withConsumers.map((q) => q.name)).toEqual(['q0003']);
    expect(over).toBe(6);
  });
});

describe('commands', () => {
  const odd = `-odd 'q' "$x" \`id\``;
  it('run rabbitmqctl as rabbitmq with every name quoted once, "--" before names and --vhost= values', () => {
    expect(deleteQueueCommand({ vhost: 'a $b', name: odd, messages: 0, consumers: 0 }).text).toBe(
      `runuser -u rabbitmq -- rabbitmqctl -q delete_queue '--vhost=a $b' --if-unused -- ` +
        `'-odd '\\''q'\\'' "$x" \`id\`' </dev/null`,
    );
    expect(clearPolicyCommand('/', '-p').text).toBe(
      'runuser -u rabbitmq -- rabbitmqctl -q clear_policy --vhost=/ -- -p </dev/null',
    );
    expect(listVhostQueuesCommand('/').text).toBe(
      'runuser -u rabbitmq -- rabbitmqctl -q list_queues --formatter json --vhost=/ ' +
        'name type messages consumers </dev/null',
    );
    const plan = buildMigrationPlan(facts310);
    const rewrite = plan.vhosts[0].policies[1];
    if (rewrite.kind !== 'rewrite') throw new Error('expected a rewrite');
    expect(rewritePolicyCommand(rewrite).text).toBe(
      'runuser -u rabbitmq -- rabbitmqctl -q set_policy --vhost=/ --priority=3 --apply-to=queues -- ' +
        `ttl-and-ha '^t\\.' '{"message-ttl":600000}' </dev/null`,
    );
  });

  it('set the default queue type per version: update_vhost_metadata from 3.11, Mnesia on 3.10, none before', () => {
    expect(setVhostQuorumDefaultCommand('/', '4.3.6').text).toBe(
      'runuser -u rabbitmq -- rabbitmqctl -q update_vhost_metadata --default-queue-type quorum -- / </dev/null',
    );
    expect(setVhostQuorumDefaultCommand('/', '3.11.0').text).toContain('update_vhost_metadata');
    const on310 = setVhostQuorumDefaultCommand(`a'"$`, '3.10.8').text;
    // the vhost reaches Erlang as byte values: no quote of the host's text inside the expression
    expect(on310).toContain('rabbit_vhost:update_metadata(<<97,39,34,36>>, ');
    expect(on310).toMatch(/^runuser -u rabbitmq -- rabbitmqctl -q eval 'case rabbit_misc:execute_mnesia_transaction/);
    expect(erlangBinary('/é')).toBe('<<47,195,169>>');
    try {
      setVhostQuorumDefaultCommand('/', '3.9.29');
      expect.unreachable();
    } catch (error) {
      expect(isWarrenError(error) && error.code).toBe('replication.unsupported');
    }
  });
});

describe('parsers: bounded, linear', () => {
  it('refuse more queues than a vhost can hold in what warren reads, and names longer than AMQP allows', () => {
    const row = { name: 'q', type: 'classic', messages: 0, consumers: 0 };
    expect(() =>
      parseJsonOutput(QueueRows, JSON.stringify(Array(MAX_QUEUES_PER_VHOST + 1).fill(row)), 'h', 'list_queues'),
    ).toThrow(/unexpected shape/);
    expect(() =>
      parseJsonOutput(QueueRows, JSON.stringify([{ ...row, name: 'x'.repeat(256) }]), 'h', 'list_queues'),
    ).toThrow(/unexpected shape/);
    expect(() => parseJsonOutput(VhostRows, '[{"name":', 'h', 'list_vhosts')).toThrow(/did not print JSON/);
    expect(classicQueues('/', [{ name: 'a', messages: '', consumers: '' }])).toEqual([
      { vhost: '/', name: 'a', messages: 0, consumers: 0 },
    ]);
  });

  it('parse and plan in time linear in the rows (4x the rows: well under 16x the time)', () => {
    const rows = (n: number) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          name: `q${i}`,
          type: i % 3 ? 'classic' : 'quorum',
          messages: i,
          consumers: 0,
        })),
      );
    const work = (text: string) => () =>
      buildMigrationPlan({
        ...facts310,
        vhosts: [{ name: '/', policies: [], queues: parseJsonOutput(QueueRows, text, 'h', 'list_queues') }],
      });
    const small = rows(4_000);
    const large = rows(16_000);
    const time = (f: () => unknown) => {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        f();
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    const ratio = time(work(large)) / Math.max(time(work(small)), 0.5);
    expect(ratio).toBeLessThan(12);
  });
});

describe('lowestVersion', () => {
  it('is the lowest version among running nodes (a stopped node is not asked)', () => {
    expect(
      lowestVersion({
        disk_nodes: ['a', 'b', 'c'],
        running_nodes: ['a', 'b'],
        versions: {
          a: { rabbitmq_version: '3.10.8' },
          b: { rabbitmq_version: '3.10.10' },
          c: { rabbitmq_version: '3.9.1' },
        },
      } as never),
    ).toBe('3.10.8');
  });
});
