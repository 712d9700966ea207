import { describe, expect, it } from 'vitest';
import { QueueMembers, describeUnderReplicated, underReplicatedQueues } from '../../../src/rabbit/quorum-queues.js';
import { fixture } from '../../support/fixtures.js';

/** list_queues printed one JSON array per vhost into these samples: the first is vhost '/'. */
function firstArray(text: string): unknown {
  return JSON.parse(text.slice(0, text.indexOf(']\n') + 1));
}

const T4 = ['rabbit@t4n1', 'rabbit@t4n2', 'rabbit@t4n3'];

describe('under-replicated quorum queues (real 4.0.5 and 4.3.6 list_queues output)', () => {
  it(
    'finds none when every quorum queue has a replica online on every ' +
      'node; classic queues ("" online) do not count',
    () => {
      for (const path of [
        'rabbitmq-4.0/list_queues.members-online.txt',
        'rabbitmq-4.3/list_queues.members-online.txt',
      ]) {
        const queues = QueueMembers.parse(firstArray(fixture(path)));
        expect(queues.filter((q) => q.type === 'classic').map((q) => q.online)).toEqual([[], []]);
        expect(underReplicatedQueues('/', queues, T4)).toEqual([]);
      }
    },
  );

  it('names the queues and the node without an online replica after a member was reset (4.0.5)', () => {
    const queues = QueueMembers.parse(
      JSON.parse(fixture('rabbitmq-4.0/list_queues.members-online.after-member-reset.json')),
    )
      // this sample was read without the type column: the two replicated ones are the quorum queues
      .map((q) => ({ ...q, type: q.members.length > 1 ? 'quorum' : 'classic' }));
    const found = underReplicatedQueues('/', queues, T4);
    expect(found).toEqual([
      { vhost: '/', name: 'qq1', online: ['rabbit@t4n1', 'rabbit@t4n3'], missing: ['rabbit@t4n2'] },
      { vhost: '/', name: 'dq1', online: ['rabbit@t4n1', 'rabbit@t4n3'], missing: ['rabbit@t4n2'] },
    ]);
    expect(describeUnderReplicated(found[0], 3)).toBe(
      "quorum queue 'qq1' in vhost '/' is under-replicated: 2 of 3 replicas online (none on rabbit@t4n2)",
    );
  });

  it('counts a node that joined but holds no replica yet (no grow) as missing', () => {
    const queues = QueueMembers.parse(firstArray(fixture('rabbitmq-4.3/list_queues.members-online.txt')));
    const found = underReplicatedQueues('/', queues, [...T4, 'rabbit@t4n4']);
    expect(found.map((q) => [q.name, q.missing])).toEqual([
      ['dq1', ['rabbit@t4n4']],
      ['qq1', ['rabbit@t4n4']],
    ]);
  });
});
