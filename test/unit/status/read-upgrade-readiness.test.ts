import { describe, expect, it } from 'vitest';
import { readUpgradeFacts } from '../../../src/status/read-upgrade-readiness.js';
import { fixture } from '../../support/fixtures.js';
import { labCluster } from '../../support/inventory.js';
import { RecordingShells, scripted } from '../../support/recording-shells.js';
import type { Reply } from '../../support/recording-shells.js';

const cluster = labCluster(3);
const ok = (stdout: string): Reply => ({ code: 0, stdout });
/** 4.0.5's three-node cluster_status, its nodes renamed to the test inventory's. */
const status40 = fixture('rabbitmq-4.0/cluster_status.3nodes.json').replace(/t4n/g, 'lab');

describe('readUpgradeFacts: every node asked itself, the cluster-wide questions once', () => {
  it(
    '3.10.8 with ha-all: versions per node, no deprecated-features ' + 'question, the policy as the 4.0 blocker',
    async () => {
      const shells = new RecordingShells(
        cluster.hosts,
        scripted([
          [/lab/, /cluster_status/, ok(fixture('rabbitmq-3.10/cluster_status.clean.json'))],
          [/lab/, /list_feature_flags/, ok(fixture('rabbitmq-3.10/list_feature_flags.json'))],
          ['lab1', /list_vhosts/, ok('[{"name":"/"}]')],
          ['lab1', /list_policies/, ok(fixture('rabbitmq-3.10/list_policies.ha-all.json'))],
          ['lab1', /list_queues/, ok('[]')],
        ]),
      );
      const report = await readUpgradeFacts(shells, cluster, '4.0');
      expect(report.nodes).toEqual(
        [1, 2, 3].map((i) => ({
          node: `rabbit@lab${i}`,
          host: `lab${i}`,
          rabbitmqVersion: '3.10.8',
          erlangVersion: '25.2.3',
          flagsNotEnabled: [],
          deprecatedInUse: 'unsupported',
          alarms: [],
        })),
      );
      expect(report.mirroringPolicies).toEqual([{ vhost: '/', name: 'ha-all', pattern: '.*', haMode: 'all' }]);
      expect(report.verdict).toMatchObject({ from: '3.10', path: 'blue-green', ready: false });
      expect(report.verdict.blockers.map((b) => b.kind)).toEqual(['mirroring']);
      expect(shells.matching(/list_deprecated_features/)).toEqual([]);
      // read-only: nothing but questions reached the hosts
      expect(
        shells.commands
          .map((c) => c.command)
          .filter((c) => !/cluster_status|list_feature_flags|list_vhosts|list_policies|list_queues/.test(c)),
      ).toEqual([]);
    },
  );

  it(
    "4.0.5: a node's own alarm and its flags not enabled are its own; a " + 'stopped node is named, not thrown',
    async () => {
      const flags = JSON.stringify(
        (JSON.parse(fixture('rabbitmq-4.0/list_feature_flags.json')) as { name: string; state: string }[]).map((f) =>
          f.name === 'rabbitmq_4.0.0' ? { ...f, state: 'disabled' } : f,
        ),
      );
      // 4.0.5 after a member's reset (that sample lacks `type`: the quorum ones are marked here)
      const afterReset = JSON.stringify(
        (
          JSON.parse(
            fixture('rabbitmq-4.0/list_queues.members-online.after-member-reset.json').replace(/t4n/g, 'lab'),
          ) as { name: string }[]
        ).map((q) => ({ ...q, type: ['qq1', 'dq1'].includes(q.name) ? 'quorum' : 'classic' })),
      );
      const alarmed = status40.replace(
        '"alarms":[]',
        '"alarms":[{"node":"rabbit@lab2","type":"resource_limit","resource":"memory"}]',
      );
      const shells = new RecordingShells(
        cluster.hosts,
        scripted([
          ['lab3', /cluster_status/, { code: 69 }],
          [/lab/, /cluster_status/, ok(alarmed)],
          ['lab1', /list_feature_flags/, ok(flags)],
          [/lab/, /list_feature_flags/, ok(fixture('rabbitmq-4.0/list_feature_flags.json'))],
          [
            /lab/,
            /list_deprecated_features --used/,
            ok(fixture('rabbitmq-4.0/list_deprecated_features.used.none.json')),
          ],
          ['lab1', /list_vhosts/, ok('[{"name":"/"}]')],
          ['lab1', /list_policies/, ok(fixture('rabbitmq-4.0/list_policies.none.json'))],
          ['lab1', /list_queues/, ok(afterReset)],
        ]),
      );
      const report = await readUpgradeFacts(shells, cluster);
      expect(report.nodes.map((n) => [n.node, n.rabbitmqVersion, n.flagsNotEnabled, n.alarms, n.unreadable])).toEqual([
        ['rabbit@lab1', '4.0.5', ['rabbitmq_4.0.0'], [], undefined],
        ['rabbit@lab2', '4.0.5', [], ['memory'], undefined],
        ['rabbit@lab3', undefined, [], [], 'RabbitMQ is not running (no Erlang VM)'],
      ]);
      expect(report.underReplicated).toEqual([
        { vhost: '/', name: 'qq1', online: ['rabbit@lab1', 'rabbit@lab3'], missing: ['rabbit@lab2'] },
        { vhost: '/', name: 'dq1', online: ['rabbit@lab1', 'rabbit@lab3'], missing: ['rabbit@lab2'] },
      ]);
      expect(report.verdict.to).toBe('4.1');
      expect(report.verdict.blockers.map((b) => b.kind)).toEqual([
        'unreadable',
        'feature-flags',
        'alarms',
        'under-replicated',
      ]);
      expect(shells.matching(/list_deprecated_features/)).toEqual([
        'lab1: if command -v pgrep >/dev/null && ! pgrep -x beam.smp ' +
          '>/dev/null; then exit 69; fi; rabbitmq-diagnostics -q ' +
          'list_deprecated_features --used --formatter json </dev/null',
        'lab2: if command -v pgrep >/dev/null && ! pgrep -x beam.smp ' +
          '>/dev/null; then exit 69; fi; rabbitmq-diagnostics -q ' +
          'list_deprecated_features --used --formatter json </dev/null',
      ]);
    },
  );

  it('a host printing garbage is that node unreadable, with the reason, never the whole report lost', async () => {
    const shells = new RecordingShells(
      cluster.hosts,
      scripted([
        ['lab1', /cluster_status/, ok('<!channel> not json')],
        [/lab/, /cluster_status/, ok(status40)],
        [/lab/, /list_feature_flags/, ok(fixture('rabbitmq-4.0/list_feature_flags.json'))],
        [/lab/, /list_deprecated_features --used/, ok('[]')],
        ['lab2', /list_vhosts/, ok('[{"name":"/"}]')],
        ['lab2', /list_policies/, ok('[]')],
        ['lab2', /list_queues/, ok('[]')],
      ]),
    );
    const report = await readUpgradeFacts(shells, cluster, '4.1');
    expect(report.nodes[0].unreadable).toBe('cluster_status on lab1 did not print JSON');
    expect(report.verdict.ready).toBe(false);
    expect(shells.matching(/list_policies/)).toEqual([
      'lab2: runuser -u rabbitmq -- rabbitmqctl -q list_policies --formatter json --vhost / </dev/null',
    ]);
  });
});

describe('readUpgradeFacts on a memory alarm (real 3.10.8, 4.0.5, 4.3.6 cluster_status)', () => {
  const single = labCluster(1);
  it.each([
    ['3.10', 'upg1', '3.10.8'],
    ['4.0', 'upg2', '4.0.5'],
    ['4.3', 'upg3', '4.3.6'],
  ])("%s: the alarm is the node's and blocks the upgrade", async (series, captured, version) => {
    const status = fixture(`rabbitmq-${series}/cluster_status.memory-alarm.json`).replaceAll(captured, 'lab1');
    const shells = new RecordingShells(
      single.hosts,
      scripted([
        ['lab1', /cluster_status/, ok(status)],
        ['lab1', /list_feature_flags/, ok('[]')],
        ['lab1', /list_deprecated_features --used/, ok('[]')],
        ['lab1', /list_vhosts/, ok('[{"name":"/"}]')],
        ['lab1', /list_policies|list_queues/, ok('[]')],
      ]),
    );
    const report = await readUpgradeFacts(shells, single);
    expect(report.nodes[0]).toMatchObject({ rabbitmqVersion: version, alarms: ['memory'] });
    expect(report.verdict.blockers.map((b) => b.what)).toEqual(['alarms: rabbit@lab1 (memory)']);
  });
});
