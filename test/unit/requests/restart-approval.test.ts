import { describe, expect, it } from 'vitest';
import { WarrenConfig } from '../../../src/config/schema.js';
import { JobData } from '../../../src/operations/schema.js';
import { requestDestructive, runsWithoutApproval } from '../../../src/requests/destructive.js';
import type { DestructiveRequest } from '../../../src/requests/destructive.js';
import { labConfigInput } from '../../support/inventory.js';
import { NOW, recordingPorts } from './recording-ports.js';

const RESTART: DestructiveRequest = {
  operation: 'cluster.restart',
  cluster: 'rmq-lab',
  requester: { via: 'slack', user: 'U0OPERATOR' },
};
const ORIGIN = { kind: 'slack', user: 'U0OPERATOR', channel: 'C0OPS', cardTs: '1700000000.000100' } as const;

/** The two front-end callbacks, recording which one the request layer chose. */
function slackMode() {
  const used: string[] = [];
  return {
    used,
    mode: {
      kind: 'ask-approval' as const,
      ask: () => {
        used.push('ask');
        return Promise.resolve('approval-1');
      },
      runDirect: () => {
        used.push('runDirect');
        return Promise.resolve(ORIGIN);
      },
    },
  };
}

describe('cluster restart approval: required | operator (per cluster)', () => {
  it('only a rolling restart on a cluster with approval: operator runs without a second person', () => {
    expect(runsWithoutApproval({ operation: 'cluster.restart', approval: 'operator' })).toBe(true);
    expect(runsWithoutApproval({ operation: 'cluster.restart', approval: 'required' })).toBe(false);
    expect(runsWithoutApproval({ operation: 'cluster.restart' })).toBe(false);
    expect(runsWithoutApproval({ operation: 'cluster.teardown', approval: 'operator' })).toBe(false);
    expect(runsWithoutApproval({ operation: 'node.reset', approval: 'operator' })).toBe(false);
  });

  it('approval: operator: the job card goes up and the job is queued at once, authorized by the operator', async () => {
    const ports = recordingPorts();
    const { used, mode } = slackMode();
    const result = await requestDestructive(ports, { ...RESTART, approval: 'operator' }, mode);
    expect(used).toEqual(['runDirect']);
    expect(result).toMatchObject({ kind: 'queued', jobId: 'job-1' });
    const enqueued = ports.calls.find((c) => c.port === 'enqueue');
    expect(enqueued?.port === 'enqueue' && enqueued.request).toEqual({
      operation: 'cluster.restart',
      cluster: 'rmq-lab',
      options: { allowWipe: false },
      origin: ORIGIN,
      authorization: { kind: 'operator', user: 'U0OPERATOR' },
      requestedAt: new Date(NOW).toISOString(),
    });
    expect(ports.audits().map((a) => [a.event, a.detail])).toEqual([
      ['requested', "gates passed; approval: operator (the cluster's config): run by U0OPERATOR, no second person"],
    ]);
  });

  it('approval: required (or absent): an approval card, as for the destructive operations', async () => {
    for (const approval of ['required', undefined] as const) {
      const ports = recordingPorts();
      const { used, mode } = slackMode();
      const result = await requestDestructive(ports, { ...RESTART, ...(approval ? { approval } : {}) }, mode);
      expect(used).toEqual(['ask']);
      expect(result.kind).toBe('needs-approval');
      expect(ports.calls.some((c) => c.port === 'enqueue')).toBe(false);
    }
  });

  it('a refused gate (an unhealthy cluster) runs nothing, even with approval: operator', async () => {
    const ports = recordingPorts({
      gates: {
        allowed: false,
        checks: [{ id: 'cluster.healthy', ok: false, detail: 'rmq-lab is not healthy: rabbit@mq2 is stopped' }],
      },
    });
    const { used, mode } = slackMode();
    expect((await requestDestructive(ports, { ...RESTART, approval: 'operator' }, mode)).kind).toBe('refused');
    expect(used).toEqual([]);
  });

  it('the config takes approval: required | operator only; a teardown job cannot carry operator', () => {
    const config = (approval: unknown) => WarrenConfig.safeParse(labConfigInput(3, { approval }));
    expect(config('operator').success).toBe(true);
    expect(config('required').success).toBe(true);
    expect(config('anyone').success).toBe(false);
    const job = (operation: string) =>
      JobData.safeParse({
        operation,
        cluster: 'demo',
        origin: ORIGIN,
        authorization: { kind: 'operator', user: 'U0OPERATOR' },
        requestedAt: new Date(NOW).toISOString(),
      });
    expect(job('cluster.restart').success).toBe(true);
    expect(job('cluster.teardown').success).toBe(false);
  });
});
