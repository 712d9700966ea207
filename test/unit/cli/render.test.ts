import { describe, expect, it } from 'vitest';
import { renderEvent, renderHealth, renderPlan } from '../../../src/cli/render.js';
import { planOperation } from '../../../src/plan.js';
import { evaluateHealth, parseClusterStatus, unreachableHealth } from '../../../src/rabbit/cluster-status.js';
import type { ClusterCreateResult } from '../../../src/operations/schema.js';
import type { ProgressEvent } from '../../../src/operations/progress.js';
import { MIRRORING_DEPRECATED } from '../../../src/steps/replication.js';
import { CMD } from '../../support/expected-commands.js';
import { fixture } from '../../support/fixtures.js';
import { labConfig } from '../../support/inventory.js';

const LAB = new Map([
  ['rabbit@lab1', 'lab1'],
  ['rabbit@lab2', 'lab2'],
  ['rabbit@lab3', 'lab3'],
]);

function healthFrom(sample: string) {
  return evaluateHealth('demo', parseClusterStatus(fixture(sample), 'lab1'), LAB, 'lab1');
}

const base = { jobId: '42', operation: 'cluster.create', cluster: 'demo', at: '2025-11-24T21:00:00.000Z' } as const;

describe('renderPlan', () => {
  const text = renderPlan('demo', planOperation(labConfig(3), 'cluster.create', 'demo'));
  const lines = text.split('\n');

  it('says it is a dry run', () => {
    expect(lines[0]).toMatch(/^plan: cluster create demo \(dry run: nothing is run/);
  });

  it('heads each step once, in order, with its commands under it', () => {
    const heads = lines.filter((l) => /^rabbit:/.test(l));

    expect(heads[0]).toBe('rabbit:preflight');
    expect(heads.at(-1)).toBe('rabbit:verify');
    expect(new Set(heads).size).toBe(heads.length);
    const join = lines.indexOf('rabbit:join');
    expect(lines.slice(join + 1, join + 3)).toEqual([
      expect.stringMatching(/^ {2}lab2 +rabbitmqctl -q stop_app <\/dev\/null$/),
      expect.stringMatching(/# when rabbit@lab2 is not yet a member/),
    ]);
  });

  it('shows every command in full, with the host in front', () => {
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^ {2}lab3 +${CMD.joinSeed.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`)),
    );
  });
});

describe('renderHealth', () => {
  it('draws a healthy cluster as a headline and one running row per node', () => {
    const text = renderHealth(healthFrom('rabbitmq-3.10/cluster_status.clean.json'));

    const lines = text.split('\n');
    expect(lines[0]).toBe('cluster demo: HEALTHY (read from lab1)');
    expect(lines.slice(1)).toHaveLength(3);
    for (const [i, line] of lines.slice(1).entries()) {
      expect(line).toMatch(
        new RegExp(`^ {2}● +rabbit@lab${i + 1} +running +RabbitMQ 3\\.10\\.8 +Erlang 25\\.2\\.3 +no alarms$`),
      );
    }
  });

  it('marks a stopped node and lists the problem under the table', () => {
    const text = renderHealth(healthFrom('rabbitmq-3.10/cluster_status.lab3-rabbit-stopped.json'));

    expect(text.split('\n')[0]).toBe('cluster demo: DEGRADED (read from lab1)');
    expect(text).toMatch(/○ +rabbit@lab3 +stopped +RabbitMQ \? +Erlang \?/);
    expect(text.split('\n').at(-1)).toBe('  ! rabbit@lab3 is stopped');
  });

  it('names the partition on the rows of the nodes that see it', () => {
    const text = renderHealth(healthFrom('rabbitmq-3.10/cluster_status.partitioned.lab1-view.json'));

    expect(text.split('\n')[0]).toMatch(/^cluster demo: PARTITIONED/);
    expect(text).toMatch(/rabbit@lab1 .*partitioned from rabbit@lab3/);
    expect(text).toMatch(/rabbit@lab2 .*partitioned from rabbit@lab3/);
  });

  it('draws an unreachable cluster with why', () => {
    const text = renderHealth(unreachableHealth('demo', LAB, ['lab1: connecting to lab1 (10.213.0.11:22) timed out']));

    expect(text.split('\n')[0]).toBe('cluster demo: UNREACHABLE');
    expect(text).toContain('  ! lab1: connecting to lab1 (10.213.0.11:22) timed out');
  });
});

describe('renderEvent', () => {
  it('shows a step starting by its id, and hides a host starting', () => {
    expect(renderEvent({ ...base, type: 'step', step: 'rabbit:join', state: 'running' })).toBe('… rabbit:join');
    expect(renderEvent({ ...base, type: 'step', step: 'rabbit:join', host: 'lab2', state: 'running' })).toBeUndefined();
  });

  it('shows a host finishing with its mark, duration and detail', () => {
    const line = renderEvent({
      ...base,
      type: 'step',
      step: 'rabbit:join',
      host: 'lab2',
      state: 'done',
      durationMs: 2480,
      detail: 'joined rabbit@lab1',
    });

    expect(line).toMatch(/^✓ +lab2 +2\.5s +joined rabbit@lab1$/);
  });

  it('shows a skipped step and a failed host with their marks', () => {
    expect(
      renderEvent({
        ...base,
        type: 'step',
        step: 'rabbit:install',
        state: 'skipped',
        durationMs: 3,
        detail: 'rabbitmq-server already installed on every node',
      }),
    ).toMatch(/^– rabbit:install +0\.0s +rabbitmq-server already installed on every node$/);
    expect(
      renderEvent({
        ...base,
        type: 'step',
        step: 'rabbit:join',
        host: 'lab2',
        state: 'failed',
        durationMs: 900,
        detail: 'lab2 could not join rabbit@lab1',
      }),
    ).toMatch(/^✗ +lab2 +0\.9s +lab2 could not join rabbit@lab1$/);
  });

  it('tells the operator what failed, where, the evidence and what to do next', () => {
    const event: ProgressEvent = {
      ...base,
      type: 'job',
      state: 'failed',
      attempt: 1,
      error: {
        code: 'join.failed',
        message: 'lab2 could not join rabbit@lab1',
        retryable: true,
        host: 'lab2',
        step: 'rabbit:join',
        evidence: {
          host: 'lab2',
          command: CMD.joinSeed,
          exitCode: 69,
          stderr: fixture('rabbitmq-3.10/join_cluster.cookie-mismatch.exit69.txt'),
        },
        hint: 'Exit code 69 means the seed was unreachable or the cookies differ.',
      },
    };

    const text = renderEvent(event) ?? '';

    const lines = text.split('\n');
    expect(lines[0]).toBe('✗ cluster.create demo failed:');
    expect(lines[1]).toBe('join.failed: lab2 could not join rabbit@lab1 (step rabbit:join, host lab2)');
    expect(text).toContain(`  command: ${CMD.joinSeed}`);
    expect(text).toContain('  exit code: 69');
    expect(text).toContain("  stderr: Error: unable to perform an operation on node 'rabbit@lab1'.");
    expect(lines.at(-1)).toBe('  next: Exit code 69 means the seed was unreachable or the cookies differ.');
  });

  it('announces a retry with the reason', () => {
    const text = renderEvent({
      ...base,
      type: 'job',
      state: 'retrying',
      attempt: 1,
      error: { code: 'ssh.connection_lost', message: 'lost the SSH connection to lab3', retryable: true, host: 'lab3' },
    });

    expect(text).toBe(
      'attempt 1 failed, will retry:\nssh.connection_lost: lost the SSH connection to lab3 (host lab3)',
    );
  });

  it('ends a completed create with the health table, replication, warnings and the transport_url', () => {
    const result: ClusterCreateResult = {
      cluster: 'demo',
      health: healthFrom('rabbitmq-3.10/cluster_status.clean.json'),
      replication: { mode: 'ha-all', detail: 'policy ha-all: ^(?!amq\\.).* -> {"ha-mode":"all"}' },
      warnings: [MIRRORING_DEPRECATED],
      transportUrl: 'rabbit://USER:PASS@10.213.0.11:5672,USER:PASS@10.213.0.12:5672,USER:PASS@10.213.0.13:5672/',
      steps: [],
    };

    const text = renderEvent({ ...base, type: 'job', state: 'completed', attempt: 0, result }) ?? '';

    const lines = text.split('\n');
    expect(lines[0]).toBe('✓ cluster demo is healthy');
    expect(lines).toContain('cluster demo: HEALTHY (read from lab1)');
    expect(lines).toContain('replication: ha-all (policy ha-all: ^(?!amq\\.).* -> {"ha-mode":"all"})');
    expect(lines).toContain(`warning: ${MIRRORING_DEPRECATED}`);
    expect(lines.at(-1)).toBe(
      'oslo.messaging transport_url: ' +
        'rabbit://USER:PASS@10.213.0.11:5672,USER:PASS@10.213.0.12:5672,USER:PASS@10.213.0.13:5672/',
    );
  });

  it('falls back to a plain line when the result is not a create result', () => {
    expect(renderEvent({ ...base, type: 'job', state: 'completed', attempt: 0, result: { something: 'else' } })).toBe(
      '✓ completed',
    );
  });

  it('shows the queued and started states', () => {
    expect(renderEvent({ ...base, type: 'job', state: 'queued', attempt: 0 })).toBe(
      'job 42 queued: cluster.create demo',
    );
    expect(renderEvent({ ...base, type: 'job', state: 'started', attempt: 2 })).toBe('attempt 2 started');
  });
});
