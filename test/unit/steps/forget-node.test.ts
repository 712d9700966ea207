import { afterEach, describe, expect, it, vi } from 'vitest';
import { forgetNode } from '../../../src/steps/forget-node.js';
import { declareStep } from '../../../src/steps/step.js';
import { CMD } from '../../support/expected-commands.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells } from '../../support/recording-shells.js';
import type { Reply } from '../../support/recording-shells.js';
import { labFacts, stepContext } from '../../support/step-context.js';

const cluster = labCluster(3, {}, (i) => ({ hostname: `t4n${i + 1}` }));
const FORGET = 'rabbitmqctl -q forget_cluster_node rabbit@t4n3 </dev/null';
const ok = (stdout = ''): Reply => ({ code: 0, stdout });
const VM_DOWN: Reply = { code: 69 };

/**
 * lab1 answers cluster_status and metadata_store_status from the lists given (last entry repeating); lab2 and lab3 are
 * down.
 */
function khepriLab(
  status: Reply[],
  store: Reply[],
  forget: Reply = ok(fixture('rabbitmq-4.3/forget_cluster_node.minority.exit0-uncommitted.txt')),
) {
  let statusCalls = 0;
  let storeCalls = 0;
  return new RecordingShells(cluster.hosts, (host, command) => {
    if (host !== 'lab1') {
      if (command === CMD.clusterStatus) return VM_DOWN;
      throw new Error(`unexpected ${host}: ${command}`);
    }
    if (command === CMD.clusterStatus) return status[Math.min(statusCalls++, status.length - 1)];
    if (command === CMD.metadataStoreStatus) return store[Math.min(storeCalls++, store.length - 1)];
    if (command === FORGET) return forget;
    throw new Error(`unexpected ${host}: ${command}`);
  });
}

describe('rabbit:forget-node under Khepri (4.3.6)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it(
    'does not count a forget that exits 0 in a minority as done: ' + 'retryable, with the metadata store as evidence',
    async () => {
      vi.useFakeTimers();
      const shells = khepriLab(
        [
          ok(fixture('rabbitmq-4.3/cluster_status.3nodes.json')),
          ok(fixture('rabbitmq-4.3/cluster_status.minority-after-forget.json')),
        ],
        [ok(fixture('rabbitmq-4.3/metadata_store_status.minority-uncommitted-forget.json'))],
      );
      const { ctx } = stepContext(cluster, shells, {
        facts: labFacts(cluster, { rabbitmqVersion: '4.3.6' }),
        target: cluster.hosts[2],
      });

      const running = declareStep(forgetNode).execute(ctx);
      const failed = expect(running).rejects.toMatchObject({
        code: 'membership.unconfirmed',
        retryable: true,
        host: 'lab1',
        message: expect.stringContaining('54 metadata change(s) not committed on the leader rabbit@t4n1') as unknown,
        evidence: {
          command: CMD.metadataStoreStatus,
          stdout: expect.stringContaining('"Commit Index":449') as unknown,
        },
      });
      await vi.advanceTimersByTimeAsync(61_000);

      await failed;
      expect(shells.matching(/forget_cluster_node/)).toEqual([`lab1: ${FORGET}`]);
      // It kept asking for the whole minute, never taking the exit code for the answer.
      expect(shells.commandsOn('lab1').filter((c) => c === CMD.metadataStoreStatus).length).toBeGreaterThanOrEqual(60);
    },
  );

  it('takes a forget that fails in a minority (exit 75) as undecided: membership.unconfirmed', async () => {
    vi.useFakeTimers();
    const shells = khepriLab(
      [
        ok(fixture('rabbitmq-4.3/cluster_status.3nodes.json')),
        ok(fixture('rabbitmq-4.3/cluster_status.minority-after-forget.json')),
      ],
      [ok(fixture('rabbitmq-4.3/metadata_store_status.minority-uncommitted-forget.json'))],
      { code: 75, stderr: 'Error:\n{:timeout, {:rabbitmq_metadata, :"rabbit@t4n1"}}\n' },
    );
    const { ctx } = stepContext(cluster, shells, {
      facts: labFacts(cluster, { rabbitmqVersion: '4.3.6' }),
      target: cluster.hosts[2],
    });

    const running = declareStep(forgetNode).execute(ctx);
    const failed = expect(running).rejects.toMatchObject({ code: 'membership.unconfirmed', retryable: true });
    await vi.advanceTimersByTimeAsync(61_000);

    await failed;
    expect(shells.matching(/forget_cluster_node/)).toEqual([`lab1: ${FORGET}`]);
  });

  it('on the retry, once the majority is back, confirms without forgetting again', async () => {
    const shells = khepriLab(
      [ok(fixture('rabbitmq-4.3/cluster_status.majority-back-after-forget.json'))],
      [ok(fixture('rabbitmq-4.3/metadata_store_status.majority-back-after-forget.json'))],
    );
    const { ctx } = stepContext(cluster, shells, {
      facts: labFacts(cluster, { rabbitmqVersion: '4.3.6' }),
      target: cluster.hosts[2],
    });

    const outcome = await declareStep(forgetNode).execute(ctx);

    expect(outcome?.detail).toBe('rabbit@t4n3 forgotten: confirmed by a majority');
    expect(shells.matching(/forget_cluster_node/)).toEqual([]);
    expect(shells.commandsOn('lab1')).toEqual([CMD.clusterStatus, CMD.clusterStatus, CMD.metadataStoreStatus]);
  });

  it('on Mnesia (4.0.5) a peer that no longer lists the node is enough: skipped', async () => {
    const status = JSON.parse(fixture('rabbitmq-4.0/cluster_status.3nodes.json')) as Record<string, string[]>;
    const without = JSON.stringify({
      ...status,
      disk_nodes: ['rabbit@t4n1', 'rabbit@t4n2'],
      running_nodes: ['rabbit@t4n1', 'rabbit@t4n2'],
    });
    const shells = khepriLab([ok(without)], []);
    const { ctx } = stepContext(cluster, shells, {
      facts: labFacts(cluster, { rabbitmqVersion: '4.0.5' }),
      target: cluster.hosts[2],
    });

    await expect(declareStep(forgetNode).execute(ctx)).resolves.toBeUndefined();
    expect(shells.commandsOn('lab1')).toEqual([CMD.clusterStatus]);
  });
});
