import { describe, expect, it } from 'vitest';
import { describeDrift, hasQuorumQueues, memberDrift, parseQueueMembers } from '../../../src/rabbit/quorum-queues.js';
import { fixture } from '../../support/fixtures.js';

const T4 = ['rabbit@t4n1', 'rabbit@t4n2', 'rabbit@t4n3'];

describe('parseQueueMembers', () => {
  it('keeps the quorum queues of a real 4.0.5 listing, with their members', () => {
    expect(parseQueueMembers(fixture('rabbitmq-4.0/list_queues.3nodes.default-vhost.json'), 't4n1', '/')).toEqual([
      { vhost: '/', name: 'dq1', members: ['rabbit@t4n1', 'rabbit@t4n3', 'rabbit@t4n2'] },
      { vhost: '/', name: 'qq1', members: ['rabbit@t4n1', 'rabbit@t4n3', 'rabbit@t4n2'] },
    ]);
  });

  it('reads a 4.3.6 vhost after a member reset: the departed node is still a member', () => {
    const queues = parseQueueMembers(
      fixture('rabbitmq-4.3/list_queues.after-member-reset.qv-vhost.json'),
      't4n1',
      'qv',
    );
    expect(queues).toEqual([{ vhost: 'qv', name: 'dq2', members: ['rabbit@t4n1', 'rabbit@t4n2', 'rabbit@t4n3'] }]);
  });

  it('reads an empty vhost, and refuses output that is not a queue list', () => {
    expect(parseQueueMembers('[]', 't4n1', '/')).toEqual([]);
    expect(() => parseQueueMembers('Listing queues for vhost / ...', 't4n1', '/')).toThrow(
      /list_queues on t4n1 did not print JSON/,
    );
  });
});

describe('memberDrift', () => {
  it('names the node that left every quorum queue (4.3.6 after t4n2 was reset)', () => {
    const queues = parseQueueMembers(
      fixture('rabbitmq-4.3/list_queues.after-member-reset.default-vhost.json'),
      't4n1',
      '/',
    );
    const drift = memberDrift(queues, ['rabbit@t4n1', 'rabbit@t4n3']);
    expect(drift.map((d) => [d.name, d.missing, d.extra])).toEqual([
      ['dq1', [], ['rabbit@t4n2']],
      ['qq-admin', [], ['rabbit@t4n2']],
      ['qq1', [], ['rabbit@t4n2']],
    ]);
    expect(describeDrift(drift, 2)).toEqual([
      'quorum queue dq1 in vhost / keeps a replica on rabbit@t4n2 (not a cluster node)',
      'quorum queue qq-admin in vhost / keeps a replica on rabbit@t4n2 (not a cluster node)',
      '… and 1 more quorum queue(s)',
    ]);
  });

  it('names the node that joined without replicas (4.3.6 after a rejoin, before grow), and nothing after grow', () => {
    const before = parseQueueMembers(
      fixture('rabbitmq-4.3/list_queues.after-rejoin-before-grow.default-vhost.json'),
      't4n1',
      '/',
    );
    expect(memberDrift(before, T4).map((d) => d.missing)).toEqual([['rabbit@t4n3'], ['rabbit@t4n3'], ['rabbit@t4n3']]);
    const after = parseQueueMembers(fixture('rabbitmq-4.3/list_queues.after-grow.default-vhost.json'), 't4n1', '/');
    expect(memberDrift(after, T4)).toEqual([]);
  });
});

describe('hasQuorumQueues', () => {
  it('is true from 3.8 on, and when the version is unknown', () => {
    expect([
      hasQuorumQueues('3.7.28'),
      hasQuorumQueues('3.8.0'),
      hasQuorumQueues('3.10.8'),
      hasQuorumQueues('4.3.6'),
      hasQuorumQueues(undefined),
    ]).toEqual([false, true, true, true, true]);
  });
});
