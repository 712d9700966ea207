import { describe, expect, it } from 'vitest';
import { buildWatchAlert, buildWatchRecovery, buildWatchesList } from '../../../src/slack/messages/watch.js';
import type { WatchFault } from '../../../src/status/watch-judge.js';

const hostile: WatchFault = {
  key: 'alarm:rabbit@x:<!channel> memory',
  kind: 'alarm',
  node: 'rabbit@x',
  summary: '<!channel> memory alarm on rabbit@x <https://evil.example|click>',
  evidence: ['alarm: ```<!here>``` & \u001b[31mred'],
  suggestion: '/rabbit status lab `rm -rf /`',
  since: '2026-12-01T12:00:00.000Z',
};

describe('watch messages: host text is escaped everywhere', () => {
  it('alert and recovery: no mention, link or fence from the host survives, in blocks or text', () => {
    for (const message of [
      buildWatchAlert('lab', hostile),
      buildWatchRecovery('lab', hostile, '2026-12-01T12:00:42.000Z'),
    ]) {
      const all = JSON.stringify(message);
      expect(all).not.toMatch(/<!channel>|<!here>|<https:/);
      expect(all).not.toContain('\u001b');
      expect(message.text).toContain('&lt;!channel&gt;');
    }
    const alert = JSON.stringify(buildWatchAlert('lab', hostile).blocks);
    expect(alert).toContain("'''&lt;!here&gt;'''");
    expect(alert).toContain("/rabbit status lab 'rm -rf /'");
    expect(JSON.stringify(buildWatchRecovery('lab', hostile, '2026-12-01T12:00:42.000Z').blocks)).toContain(
      '(after 42 s)',
    );
  });

  it('the watches list names each watch, its channel and its open faults, escaped', () => {
    const list = buildWatchesList([
      {
        record: {
          cluster: 'lab',
          channel: 'C0123ABCD',
          requestedBy: 'U0123ABCD',
          createdAt: '2026-12-01T11:00:00.000Z',
          periodSeconds: 30,
        },
        state: {
          cluster: 'lab',
          judgedAt: '2026-12-01T12:00:00.000Z',
          reading: 'full',
          faults: { [hostile.key]: hostile },
          maintenanceSince: {},
          gauges: { nodesRunning: 3, nodesExpected: 3, partitions: 0, alarms: 1, underReplicatedQueues: 0 },
        },
      },
    ]);
    const all = JSON.stringify(list.blocks);
    expect(all).toContain('<#C0123ABCD>');
    expect(all).toContain('3/3 running');
    expect(all).toContain('&lt;!channel&gt; memory alarm');
    expect(all).not.toContain('<!channel>');
  });
});
