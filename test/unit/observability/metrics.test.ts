import { describe, expect, it } from 'vitest';
import { createMetrics, observeCommand, observeEvent } from '../../../src/observability/metrics.js';

const at = '2026-11-24T22:00:00.000Z';

describe('metrics from progress events and remote commands', () => {
  it('counts job outcomes and times the steps themselves, not their per-host parts', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const base = { jobId: 'j1', operation: 'cluster.create' as const, cluster: 'lab', at };
    observeEvent(metrics, { ...base, type: 'job', state: 'started', attempt: 1 });
    observeEvent(metrics, { ...base, type: 'step', step: 'rabbit:join', state: 'running' });
    observeEvent(metrics, {
      ...base,
      type: 'step',
      step: 'rabbit:join',
      host: 'lab2',
      state: 'done',
      durationMs: 2500,
    });
    observeEvent(metrics, { ...base, type: 'step', step: 'rabbit:join', state: 'done', durationMs: 5000 });
    observeEvent(metrics, { ...base, type: 'job', state: 'retrying', attempt: 1 });
    observeEvent(metrics, { ...base, type: 'job', state: 'completed', attempt: 2 });

    const text = await metrics.registry.metrics();
    expect(text).toContain('warren_jobs_total{operation="cluster.create",outcome="completed"} 1');
    expect(text).toContain('warren_jobs_total{operation="cluster.create",outcome="retrying"} 1');
    expect(text).not.toContain('outcome="started"');
    expect(text).toContain(
      'warren_step_duration_seconds_count{operation="cluster.create",step="rabbit:join",state="done"} 1',
    );
    expect(text).toContain(
      'warren_step_duration_seconds_sum{operation="cluster.create",step="rabbit:join",state="done"} 5',
    );
  });

  it('times commands by outcome and counts failures by exit code', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    observeCommand(metrics, { host: 'lab1', command: 'x', code: 0, durationMs: 100, ok: true });
    observeCommand(metrics, { host: 'lab1', command: 'x', code: 69, durationMs: 300, ok: true });
    observeCommand(metrics, { host: 'lab2', command: 'x', code: 69, durationMs: 300, ok: false });
    observeCommand(metrics, { host: 'lab2', command: 'x', code: null, durationMs: 10, ok: false });

    const text = await metrics.registry.metrics();
    expect(text).toContain('warren_ssh_command_duration_seconds_count{host="lab1",outcome="ok"} 2');
    expect(text).toContain('warren_ssh_command_duration_seconds_count{host="lab2",outcome="failed"} 2');
    expect(text).toContain('warren_ssh_command_failures_total{host="lab2",exit_code="69"} 1');
    expect(text).toContain('warren_ssh_command_failures_total{host="lab2",exit_code="none"} 1');
    expect(text).not.toContain('warren_ssh_command_failures_total{host="lab1"');
  });
});
