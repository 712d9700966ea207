import { describe, expect, it } from 'vitest';
import { parseClusterStatus } from '../../../src/rabbit/cluster-status.js';
import { judgeCommit, metadataStoreOfStatus, parseMetadataStoreStatus } from '../../../src/rabbit/metadata-store.js';
import { fixture } from '../../support/fixtures.js';

const status = (path: string) => parseClusterStatus(fixture(path), 't4n1');
const rows = (path: string) => parseMetadataStoreStatus(fixture(path), 't4n1');
const T4 = ['rabbit@t4n1', 'rabbit@t4n2', 'rabbit@t4n3'];

describe('metadataStoreOfStatus', () => {
  it('reads the khepri_db feature flag from real cluster_status outputs', () => {
    expect(metadataStoreOfStatus(status('rabbitmq-3.10/cluster_status.clean.json'))).toBe('mnesia');
    expect(metadataStoreOfStatus(status('rabbitmq-4.0/cluster_status.3nodes.json'))).toBe('mnesia');
    expect(metadataStoreOfStatus(status('rabbitmq-4.0/cluster_status.3nodes-khepri.json'))).toBe('khepri');
    expect(metadataStoreOfStatus(status('rabbitmq-4.3/cluster_status.3nodes.json'))).toBe('khepri');
  });
});

describe('parseMetadataStoreStatus', () => {
  it('parses the rows of a committed 3-node store (4.3.6 and 4.0.5 with khepri_db)', () => {
    expect(
      rows('rabbitmq-4.3/metadata_store_status.3nodes.json').map((r) => [r['Node Name'], r['Raft State']]),
    ).toEqual([
      ['rabbit@t4n1', 'leader'],
      ['rabbit@t4n2', 'follower'],
      ['rabbit@t4n3', 'follower'],
    ]);
    expect(rows('rabbitmq-4.0/metadata_store_status.3nodes-khepri.json')).toHaveLength(3);
  });

  it('refuses what is not the JSON table, naming the host', () => {
    expect(() => parseMetadataStoreStatus('Status of metadata store on node rabbit@t4n1 ...', 't4n1')).toThrow(
      /metadata_store_status on t4n1 did not print JSON/,
    );
    expect(() => parseMetadataStoreStatus('[{"Node Name":"rabbit@t4n1"}]', 't4n1')).toThrow(/unexpected shape/);
    expect(() => parseMetadataStoreStatus(' '.repeat(1_000_001), 't4n1')).toThrow(/more than a cluster's worth/);
  });
});

describe('judgeCommit', () => {
  it('confirms a committed membership read from a majority', () => {
    expect(judgeCommit(rows('rabbitmq-4.3/metadata_store_status.3nodes.json'), T4, T4)).toEqual({ confirmed: true });
    const after = status('rabbitmq-4.3/cluster_status.after-member-reset.json');
    expect(
      judgeCommit(rows('rabbitmq-4.3/metadata_store_status.after-member-reset.json'), after.disk_nodes, [
        'rabbit@t4n1',
        'rabbit@t4n3',
      ]),
    ).toEqual({ confirmed: true });
  });

  it(
    'does not confirm the forget a minority accepted with exit 0: ' +
      'cluster_status already agrees, the log is not committed',
    () => {
      const view = status('rabbitmq-4.3/cluster_status.minority-after-forget.json');
      expect(view.disk_nodes).toEqual(['rabbit@t4n1', 'rabbit@t4n2']);
      const verdict = judgeCommit(
        rows('rabbitmq-4.3/metadata_store_status.minority-uncommitted-forget.json'),
        view.disk_nodes,
        ['rabbit@t4n1', 'rabbit@t4n2'],
      );
      expect(verdict).toEqual({
        confirmed: false,
        reason: '54 metadata change(s) not committed on the leader rabbit@t4n1 (commit index 449, last log index 503)',
      });
    },
  );

  it('does not confirm a lone leader of 2 members even with nothing pending', () => {
    const verdict = judgeCommit(
      rows('rabbitmq-4.3/metadata_store_status.minority-of-2-committed.json'),
      ['rabbit@t4n1', 'rabbit@t4n2'],
      ['rabbit@t4n1', 'rabbit@t4n2'],
    );
    expect(verdict).toEqual({
      confirmed: false,
      reason: 'only 1 of 2 members answer in the metadata store (rabbit@t4n1): not a majority',
    });
  });

  it('does not confirm while the cluster still lists the node that left, or lacks the one that joined', () => {
    const all = rows('rabbitmq-4.3/metadata_store_status.3nodes.json');
    expect(judgeCommit(all, T4, ['rabbit@t4n1', 'rabbit@t4n2'])).toEqual({
      confirmed: false,
      reason: 'the cluster lists rabbit@t4n1, rabbit@t4n2, rabbit@t4n3; still listed: rabbit@t4n3',
    });
    expect(judgeCommit(all, T4, [...T4, 'rabbit@t4n4'])).toMatchObject({
      confirmed: false,
      reason: expect.stringContaining('missing rabbit@t4n4') as unknown,
    });
  });

  it('does not confirm while a node outside the expected members still answers as a Raft member', () => {
    expect(
      judgeCommit(
        rows('rabbitmq-4.3/metadata_store_status.3nodes.json'),
        ['rabbit@t4n1', 'rabbit@t4n2'],
        ['rabbit@t4n1', 'rabbit@t4n2'],
      ),
    ).toEqual({ confirmed: false, reason: 'rabbit@t4n3 still answer as metadata store members' });
  });
});
