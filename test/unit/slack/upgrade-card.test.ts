import { describe, expect, it } from 'vitest';
import { judgeUpgrade } from '../../../src/rabbit/upgrade-path.js';
import type { NodeReading } from '../../../src/rabbit/upgrade-path.js';
import { buildUpgradeCard } from '../../../src/slack/messages/upgrade-card.js';
import { renderUpgradeReport } from '../../../src/cli/render.js';
import type { UpgradeReport } from '../../../src/status/read-upgrade-readiness.js';

const node = (i: number, more: Partial<NodeReading> = {}): NodeReading => ({
  node: `rabbit@lab${i}`,
  host: `lab${i}`,
  rabbitmqVersion: '3.10.8',
  erlangVersion: '25.2.3',
  flagsNotEnabled: [],
  deprecatedInUse: 'unsupported',
  alarms: [],
  ...more,
});

function report(nodes: NodeReading[], mirroring: UpgradeReport['mirroringPolicies'], target?: string): UpgradeReport {
  return {
    cluster: 'lab',
    ...(target ? { target } : {}),
    nodes,
    mirroringPolicies: mirroring,
    underReplicated: [],
    notRead: [],
    verdict: judgeUpgrade({ nodes, mirroringPolicies: mirroring, underReplicated: [] }, target),
  };
}

const blocksText = (blocks: unknown): string => JSON.stringify(blocks);

describe('the upgrade-check card and its terminal rendering', () => {
  it(
    '3.10 with ha-all, --to 4.0: not ready, blue/green, the policy named ' +
      'as the blocker with what to do, versions per node',
    () => {
      const card = buildUpgradeCard(
        report(
          [1, 2, 3].map((i) => node(i)),
          [{ vhost: '/', name: 'ha-all', pattern: '.*', haMode: 'all' }],
          '4.0',
        ),
      );
      const text = blocksText(card.blocks);
      expect(card.text).toBe(
        'lab is not ready for 4.0 (blue/green): classic queue mirroring ' +
          'policies block 4.0 (4.0 removed mirroring): ha-all (vhost /, ha-mode ' +
          'all)',
      );
      expect(text).toContain(':no_entry: *lab* is not ready for 4.0: 1 blocker');
      expect(text).toContain(
        '*rabbit@lab2* · RabbitMQ 3.10.8 · Erlang 25.2.3 · all stable feature ' +
          'flags enabled · deprecated features: not reported before 3.13 · no ' +
          'alarms',
      );
      expect(text).toContain('rabbitmqctl clear_policy --vhost');
      expect(text).toContain('mirroring policies: `/ ha-all`');
    },
  );

  it('4.x: names the flags not enabled per node and says ready when nothing blocks', () => {
    const flagged = buildUpgradeCard(
      report(
        [
          node(1, { rabbitmqVersion: '4.0.5', deprecatedInUse: [], flagsNotEnabled: ['rabbitmq_4.0.0'] }),
          node(2, { rabbitmqVersion: '4.0.5', deprecatedInUse: [] }),
        ],
        [],
      ),
    );
    expect(blocksText(flagged.blocks)).toContain('feature flags not enabled: `rabbitmq_4.0.0`');
    expect(flagged.text).toMatch(
      /^lab is not ready for 4\.1 \(rolling upgrade\): stable feature flags not enabled: rabbitmq_4\.0\.0 \(on rabbit@lab1\)$/,
    );
    const ready = buildUpgradeCard(report([node(1, { rabbitmqVersion: '4.0.5', deprecatedInUse: [] })], []));
    expect(ready.text).toBe('lab is ready for 4.1 (rolling upgrade)');
  });

  it('escapes what hosts said in the blocks and the text; the terminal gets no control characters', () => {
    const hostile = report(
      [node(1, { rabbitmqVersion: '4.0.5', deprecatedInUse: ['<!channel>'], alarms: ['memory <https://evil|x>'] })],
      [{ vhost: '&v', name: '<@U0ALL>', pattern: '.*', haMode: 'all' }],
      '4.1',
    );
    const card = buildUpgradeCard(hostile);
    const all = blocksText(card.blocks) + card.text;
    expect(all).not.toMatch(/<!channel>|<@U0ALL>|<https:/);
    expect(all).toContain('&lt;!channel&gt;');
    const terminal = renderUpgradeReport({
      ...hostile,
      nodes: [{ ...hostile.nodes[0], alarms: ['memory\u001b[2J\u0007'] }],
    });
    expect(terminal).not.toContain('\u001b');
    expect(terminal).not.toContain('\u0007');
    expect(terminal).toContain('alarms: memory');
  });

  it('renders the terminal report: verdict, path, a line per node, blockers with what to do', () => {
    const lines = renderUpgradeReport(
      report(
        [
          node(1),
          {
            node: 'rabbit@lab2',
            host: 'lab2',
            flagsNotEnabled: [],
            deprecatedInUse: [],
            alarms: [],
            unreadable: 'RabbitMQ is not running (no Erlang VM)',
          },
        ],
        [],
        '3.11',
      ),
    ).split('\n');
    expect(lines[0]).toBe('cluster lab: NOT READY for 3.11 (rolling)');
    expect(lines[1]).toBe('  path: rolling upgrade 3.10 → 3.11: one node at a time');
    expect(lines[3]).toBe('  ○ rabbit@lab2            not read: RabbitMQ is not running (no Erlang VM)');
    expect(lines).toContain('  ✗ rabbit@lab2 could not be read: RabbitMQ is not running (no Erlang VM)');
  });
});
