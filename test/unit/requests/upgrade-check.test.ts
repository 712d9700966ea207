import { describe, expect, it } from 'vitest';
import { WarrenError } from '../../../src/errors.js';
import { requestUpgradeCheck } from '../../../src/requests/upgrade-check.js';
import type { UpgradeReport } from '../../../src/status/read-upgrade-readiness.js';

const REPORT: UpgradeReport = {
  cluster: 'rmq-lab',
  nodes: [],
  mirroringPolicies: [],
  underReplicated: [],
  notRead: [],
  verdict: { path: 'none', hops: [], summary: 'no node could be read', blockers: [], warnings: [], ready: false },
};

describe('requestUpgradeCheck', () => {
  it('reads the cluster with the target asked, nothing queued or audited (read-only)', async () => {
    const calls: unknown[] = [];
    const result = await requestUpgradeCheck(
      { readUpgradeReadiness: (cluster, target) => (calls.push({ cluster, target }), Promise.resolve(REPORT)) },
      { cluster: 'rmq-lab', to: '4.0' },
    );
    expect(result).toEqual({ kind: 'report', report: REPORT });
    expect(calls).toEqual([{ cluster: 'rmq-lab', target: '4.0' }]);
  });

  it('a reading that cannot start is unreadable with its code, never thrown at the front end', async () => {
    const result = await requestUpgradeCheck(
      { readUpgradeReadiness: () => Promise.reject(new WarrenError('cluster.unknown', 'unknown cluster "x"')) },
      { cluster: 'x' },
    );
    expect(result.kind === 'unreadable' && result.error.code).toBe('cluster.unknown');
  });
});
