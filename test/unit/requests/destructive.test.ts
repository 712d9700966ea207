import { describe, expect, it } from 'vitest';
import { jobOptionsFor, requestDestructive } from '../../../src/requests/destructive.js';
import type { DestructiveRequest } from '../../../src/requests/destructive.js';
import { NOW, nodeUnknown, recordingPorts } from './recording-ports.js';

const FROM_SLACK: DestructiveRequest = {
  operation: 'node.reset',
  cluster: 'rmq-lab',
  node: 'mq3',
  requester: { via: 'slack', user: 'U0OPERATOR' },
};
const FROM_CLI: DestructiveRequest = { ...FROM_SLACK, requester: { via: 'cli', user: 'alice' } };
const AT = new Date(NOW).toISOString();
const REFUSING = {
  allowed: false,
  checks: [
    {
      id: 'node.last_running_disk' as const,
      ok: false,
      detail: 'rabbit@mq3 is the last running disk node',
      remedy: 'start another node',
    },
  ],
};

describe('requestDestructive, dry run', () => {
  it("shows the plan and the gates with the queue's cluster.busy check; audits and queues nothing", async () => {
    const ports = recordingPorts();
    const result = await requestDestructive(ports, FROM_SLACK, { kind: 'dry-run' });
    expect(result).toMatchObject({
      kind: 'plan',
      plan: [{ command: 'rabbitmqctl -q reset </dev/null' }],
      report: { allowed: true },
    });
    if (result.kind !== 'plan') throw new Error(result.kind);
    expect(result.report.checks.map((c) => `${c.id} ${c.ok}`)).toEqual(['cluster.busy true', 'cluster.minority true']);
    expect(ports.calls.map((c) => c.port)).toEqual(['runningOperation', 'checkGates', 'plan']);
  });

  it('on a busy cluster still judges and shows why it could not run now', async () => {
    const ports = recordingPorts({ running: 'job-7' });
    const result = await requestDestructive(ports, FROM_CLI, { kind: 'dry-run' });
    if (result.kind !== 'plan') throw new Error(result.kind);
    expect(result.report.allowed).toBe(false);
    expect(result.report.checks[0]).toEqual({
      id: 'cluster.busy',
      ok: false,
      detail: 'job job-7 is running on rmq-lab',
      remedy: 'wait for it to end (`/rabbit jobs`), then ask again',
    });
    expect(ports.audits()).toEqual([]);
  });

  it('an error of the gates is the result, not audited', async () => {
    const ports = recordingPorts({ gatesThrow: nodeUnknown() });
    expect(await requestDestructive(ports, FROM_SLACK, { kind: 'dry-run' })).toMatchObject({
      kind: 'unchecked',
      error: { code: 'node.unknown' },
    });
    expect(ports.audits()).toEqual([]);
  });
});

describe('requestDestructive, asking an approver (Slack)', () => {
  it('refuses a busy cluster before reading anything over SSH, audited with the holder', async () => {
    const ports = recordingPorts({ running: 'job-7' });
    let asked = false;
    const result = await requestDestructive(ports, FROM_SLACK, {
      kind: 'ask-approval',
      ask: () => ((asked = true), Promise.resolve('a1')),
    });
    expect(result).toEqual({ kind: 'busy', jobId: 'job-7' });
    expect(asked).toBe(false);
    expect(ports.calls.map((c) => c.port)).toEqual(['runningOperation', 'appendAudit']);
    expect(ports.audits()).toEqual([
      {
        at: AT,
        event: 'refused',
        operation: 'node.reset',
        cluster: 'rmq-lab',
        node: 'mq3',
        actor: 'U0OPERATOR',
        via: 'slack',
        detail: 'cluster busy: job job-7 holds rmq-lab',
      },
    ]);
  });

  it('refused by the gates: every failed check in the audit, nobody asked', async () => {
    const ports = recordingPorts({ gates: REFUSING });
    let asked = false;
    const result = await requestDestructive(ports, FROM_SLACK, {
      kind: 'ask-approval',
      ask: () => ((asked = true), Promise.resolve('a1')),
    });
    expect(result.kind).toBe('refused');
    expect(asked).toBe(false);
    // Refused before the plan is drawn.
    expect(ports.calls.map((c) => c.port)).toEqual(['runningOperation', 'checkGates', 'appendAudit']);
    expect(ports.audits()).toMatchObject([
      {
        event: 'refused',
        actor: 'U0OPERATOR',
        detail: 'gates: node.last_running_disk: rabbit@mq3 is the last running disk node',
      },
    ]);
  });

  it('a request the gates cannot judge is refused with the error code, audited', async () => {
    const ports = recordingPorts({ gatesThrow: nodeUnknown() });
    const result = await requestDestructive(ports, FROM_SLACK, {
      kind: 'ask-approval',
      ask: () => Promise.resolve('a1'),
    });
    expect(result).toMatchObject({
      kind: 'unchecked',
      error: { code: 'node.unknown', hint: 'Members of rmq-lab: mq1, mq2, mq3.' },
    });
    expect(ports.audits()).toMatchObject([
      { event: 'refused', detail: 'node.unknown: mq9 is not a member of rmq-lab' },
    ]);
  });

  it(
    'passed: asks with the plan and the report, then audits the request ' +
      'with the approval id and what it wipes; queues nothing',
    async () => {
      const ports = recordingPorts({ gates: { wipes: ['mq3 holds 3 queues'] } });
      const seen: unknown[] = [];
      const result = await requestDestructive(ports, FROM_SLACK, {
        kind: 'ask-approval',
        ask: (judged) => {
          seen.push(judged.report.checks.map((c) => c.id));
          return Promise.resolve('a1');
        },
      });
      expect(result).toMatchObject({ kind: 'needs-approval', approvalId: 'a1' });
      expect(seen).toEqual([['cluster.busy', 'cluster.minority']]);
      expect(ports.calls.map((c) => c.port)).toEqual(['runningOperation', 'checkGates', 'plan', 'appendAudit']);
      expect(ports.audits()).toEqual([
        {
          at: AT,
          event: 'requested',
          operation: 'node.reset',
          cluster: 'rmq-lab',
          node: 'mq3',
          actor: 'U0OPERATOR',
          via: 'slack',
          approvalId: 'a1',
          detail: 'gates passed; wipes: mq3 holds 3 queues',
        },
      ]);
    },
  );
});

describe("requestDestructive, run now (the CLI's --yes)", () => {
  it(
    'audits the bypass, then queues with a cli-yes authorization; busy was ' + 'never asked before the enqueue',
    async () => {
      const ports = recordingPorts();
      const result = await requestDestructive(ports, FROM_CLI, { kind: 'run-now' });
      expect(result).toMatchObject({ kind: 'queued', jobId: 'job-1' });
      expect(ports.calls.map((c) => c.port)).toEqual(['checkGates', 'plan', 'appendAudit', 'enqueue']);
      expect(ports.audits()).toEqual([
        {
          at: AT,
          event: 'requested',
          operation: 'node.reset',
          cluster: 'rmq-lab',
          node: 'mq3',
          actor: 'cli:alice',
          via: 'cli',
          detail: '--yes: chat approval bypassed',
        },
      ]);
      expect(ports.calls.find((c) => c.port === 'enqueue')).toMatchObject({
        request: {
          operation: 'node.reset',
          cluster: 'rmq-lab',
          node: 'mq3',
          options: { allowWipe: false },
          origin: { kind: 'cli', user: 'alice' },
          authorization: { kind: 'cli-yes', user: 'alice' },
          requestedAt: AT,
        },
      });
    },
  );

  it("busy is the enqueue's answer: audited refused with the holder's job id", async () => {
    const ports = recordingPorts({ busyAtEnqueue: 'job-7' });
    expect(await requestDestructive(ports, FROM_CLI, { kind: 'run-now' })).toEqual({ kind: 'busy', jobId: 'job-7' });
    expect(ports.calls.filter((c) => c.port === 'runningOperation')).toEqual([]);
    expect(ports.audits().map((e) => [e.event, e.detail, e.jobId])).toEqual([
      ['requested', '--yes: chat approval bypassed', undefined],
      ['refused', 'cluster busy: job job-7', 'job-7'],
    ]);
  });

  it('refused by the gates: audited, nothing queued, and the report is not given a busy check', async () => {
    const ports = recordingPorts({ gates: REFUSING });
    const result = await requestDestructive(ports, FROM_CLI, { kind: 'run-now' });
    if (result.kind !== 'refused') throw new Error(result.kind);
    expect(result.report.checks.map((c) => c.id)).toEqual(['node.last_running_disk']);
    expect(ports.calls.filter((c) => c.port === 'enqueue')).toEqual([]);
    expect(ports.audits()).toMatchObject([{ event: 'refused', actor: 'cli:alice', via: 'cli' }]);
  });

  it('a node add is queued allowing the wipe the gates reported; a teardown names no node', async () => {
    const add = recordingPorts();
    await requestDestructive(add, { ...FROM_CLI, operation: 'node.add', node: 'mq4' }, { kind: 'run-now' });
    expect(add.calls.find((c) => c.port === 'enqueue')).toMatchObject({
      request: { operation: 'node.add', node: 'mq4', options: { allowWipe: true } },
    });
    const teardown = recordingPorts();
    const request: DestructiveRequest = {
      operation: 'cluster.teardown',
      cluster: 'rmq-lab',
      requester: { via: 'cli', user: 'alice' },
    };
    await requestDestructive(teardown, request, { kind: 'run-now' });
    expect(teardown.calls.find((c) => c.port === 'checkGates')).toEqual({
      port: 'checkGates',
      request: { operation: 'cluster.teardown', cluster: 'rmq-lab' },
    });
    expect(teardown.audits()[0]).not.toHaveProperty('node');
  });
});

describe('jobOptionsFor', () => {
  it('allows the wipe only for a node add', () => {
    expect(jobOptionsFor('node.add')).toEqual({ allowWipe: true });
    for (const operation of ['node.reset', 'node.remove', 'cluster.teardown'] as const)
      expect(jobOptionsFor(operation)).toEqual({ allowWipe: false });
  });
});
