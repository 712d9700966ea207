import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../../src/operations/progress.js';
import { applyEvent, initialJobView, isJobEnded } from '../../../src/slack/job-view.js';
import type { JobView } from '../../../src/slack/job-view.js';
import { repliesForEvent } from '../../../src/slack/reply-plan.js';

const base = { jobId: 'j1', operation: 'cluster.create' as const, cluster: 'rmq-lab', at: '2026-01-01T00:00:00.000Z' };
const job = (
  state: 'queued' | 'started' | 'retrying' | 'completed' | 'failed',
  attempt: number,
  extra: object = {},
): ProgressEvent => ({ ...base, type: 'job', state, attempt, ...extra });
const step = (
  id: string,
  state: 'pending' | 'running' | 'done' | 'skipped' | 'failed',
  extra: object = {},
): ProgressEvent => ({ ...base, type: 'step', step: id, state, ...extra });
const STEPS = [
  { id: 'a', title: 'Step A' },
  { id: 'b', title: 'Step B' },
];

function fold(events: ProgressEvent[]): JobView {
  return events.reduce(applyEvent, initialJobView('j1', 'cluster.create', 'rmq-lab'));
}

/** Every reply key the events call for, in order, as the reporter would see them. */
function replyKeys(events: ProgressEvent[]): string[] {
  let view = initialJobView('j1', 'cluster.create', 'rmq-lab');
  const keys: string[] = [];
  for (const event of events) {
    view = applyEvent(view, event);
    keys.push(...repliesForEvent(event, view).map((r) => r.key));
  }
  return keys;
}

const error = { code: 'command.failed', message: 'exit 1', retryable: false, host: 'mq2', step: 'b' };

describe('applyEvent', () => {
  it('draws the checklist from the started event, before any step runs', () => {
    const view = fold([job('queued', 0), job('started', 1, { steps: STEPS })]);
    expect(view.state).toBe('started');
    expect(view.steps.map((s) => [s.id, s.title, s.state])).toEqual([
      ['a', 'Step A', 'pending'],
      ['b', 'Step B', 'pending'],
    ]);
  });

  it('tracks each host within a step and marks the step running when a host starts', () => {
    const view = fold([
      job('started', 1, { steps: STEPS }),
      step('a', 'running', { host: 'mq1' }),
      step('a', 'done', { host: 'mq1', durationMs: 5, detail: 'ok' }),
    ]);
    expect(view.steps[0]).toMatchObject({
      state: 'running',
      hosts: [{ host: 'mq1', state: 'done', durationMs: 5, detail: 'ok' }],
    });
  });

  it("treats a failure that names its host as the step's failure", () => {
    const view = fold([
      job('started', 1, { steps: STEPS }),
      step('b', 'running'),
      step('b', 'failed', { host: 'mq2', error, durationMs: 10 }),
    ]);
    expect(view.steps[1]).toMatchObject({
      state: 'failed',
      reported: true,
      error,
      hosts: [{ host: 'mq2', state: 'failed' }],
    });
  });

  it('never leaves a step running once the job has ended', () => {
    const failed = fold([
      job('started', 1, { steps: STEPS }),
      step('a', 'running'),
      job('failed', 1, { error: { ...error, step: 'a' } }),
    ]);
    expect(isJobEnded(failed)).toBe(true);
    expect(failed.steps.map((s) => s.state)).toEqual(['failed', 'pending']);
    const completed = fold([job('started', 1, { steps: STEPS }), step('a', 'running'), job('completed', 1)]);
    expect(completed.steps[0].state).toBe('done');
  });

  it('never goes back to queued when the queued event arrives after the worker started', () => {
    const view = fold([job('started', 1, { steps: STEPS }), step('a', 'done'), job('queued', 0)]);
    expect(view).toMatchObject({ state: 'started', attempt: 1 });
    expect(view.steps[0].state).toBe('done');
  });

  it('drops the host rows of a finished step that a later attempt runs again', () => {
    const view = fold([
      job('started', 1, { steps: STEPS }),
      step('a', 'running'),
      step('a', 'done', { host: 'mq1', durationMs: 3 }),
      step('a', 'done', { host: 'mq2', durationMs: 4 }),
      step('a', 'done', { durationMs: 5 }),
      step('b', 'failed', { host: 'mq2', error }),
      job('retrying', 1, { error }),
      job('started', 2, { steps: STEPS }),
      step('a', 'running'),
      step('a', 'done', { host: 'mq1', durationMs: 2 }),
      step('a', 'failed', { host: 'mq2', error: { ...error, step: 'a' } }),
    ]);
    expect(view.steps[0].hosts.map((h) => [h.host, h.state, h.durationMs])).toEqual([
      ['mq1', 'done', 2],
      ['mq2', 'failed', undefined],
    ]);
    const unreached = fold([
      job('started', 1, { steps: STEPS }),
      step('a', 'running'),
      step('a', 'done', { host: 'mq1' }),
      step('a', 'done'),
      job('retrying', 1, { error }),
      job('started', 2, { steps: STEPS }),
      step('a', 'running'),
    ]);
    expect(unreached.steps[0].hosts).toEqual([]);
  });

  it('starts a retried attempt clean but keeps finished steps', () => {
    const view = fold([
      job('started', 1, { steps: STEPS }),
      step('a', 'done', { durationMs: 3 }),
      step('b', 'running', { host: 'mq1' }),
      job('retrying', 1, { error }),
      job('started', 2, { steps: STEPS }),
    ]);
    expect(view).toMatchObject({ state: 'started', attempt: 2 });
    expect(view.error).toBeUndefined();
    expect(view.steps.map((s) => [s.state, s.hosts.length])).toEqual([
      ['done', 0],
      ['pending', 0],
    ]);
  });

  it('adds a step it was never told about rather than dropping its events', () => {
    const view = fold([job('started', 1, { steps: STEPS }), step('c', 'done')]);
    expect(view.steps.map((s) => s.id)).toEqual(['a', 'b', 'c']);
  });
});

describe('repliesForEvent', () => {
  it('replies once per step with something to say, then with the failure', () => {
    expect(
      replyKeys([
        job('started', 1, { steps: STEPS }),
        step('a', 'running'),
        step('a', 'done', { host: 'mq1', detail: 'host detail' }),
        step('a', 'done'),
        step('b', 'running'),
        step('b', 'failed', { host: 'mq2', error }),
        job('failed', 1, { error }),
      ]),
    ).toEqual(['step:a:finished', 'step:b:failed:1', 'job:failed']);
  });

  it('says nothing for a plain done step or a skipped one (the card shows them)', () => {
    expect(
      replyKeys([
        job('started', 1, { steps: STEPS }),
        step('a', 'done'),
        step('b', 'skipped', { detail: 'finished by an earlier attempt' }),
      ]),
    ).toEqual([]);
  });

  it('gives a retried failure a new key per attempt, and a done step one key whatever the attempt', () => {
    expect(
      replyKeys([
        job('started', 1, { steps: STEPS }),
        step('a', 'done', { detail: 'x' }),
        step('b', 'failed', { error }),
        job('retrying', 1, { error }),
        job('started', 2, { steps: STEPS }),
        step('a', 'done', { detail: 'x again' }),
        step('b', 'failed', { error }),
        job('failed', 2, { error }),
      ]),
    ).toEqual(['step:a:finished', 'step:b:failed:1', 'retry:1', 'step:a:finished', 'step:b:failed:2', 'job:failed']);
  });

  it('ends a completed create with the status card and the transport_url', () => {
    const result = {
      cluster: 'rmq-lab',
      health: { cluster: 'rmq-lab', headline: 'healthy', nodes: [], problems: [], expected: [] },
      replication: { mode: 'quorum', detail: 'default queue type quorum' },
      warnings: [],
      transportUrl: 'rabbit://USER:PASS@h1:5672/',
      steps: [],
    };
    expect(replyKeys([job('started', 1, { steps: STEPS }), job('completed', 1, { result })])).toEqual([
      'job:transport',
      'job:status',
    ]);
    // A result of another shape still closes the thread with something readable.
    expect(replyKeys([job('started', 1, { steps: STEPS }), job('completed', 1, { result: { odd: true } })])).toEqual([
      'job:status',
    ]);
  });

  it('flushes host output of a step that never reported its own end when the job ends', () => {
    expect(
      replyKeys([job('started', 1, { steps: STEPS }), step('a', 'done', { host: 'mq1' }), job('completed', 1)]),
    ).toEqual(['step:a:finished', 'job:status']);
  });
});
