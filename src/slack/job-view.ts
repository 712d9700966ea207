import type { JobEvent, ProgressEvent, StepEvent } from '../operations/progress.js';
import type { StepState } from '../steps/schema.js';

export type JobState = JobEvent['state'];
export type SerializedEventError = NonNullable<JobEvent['error']>;

/** One host's part of a step, as its events left it. */
export interface HostView {
  host: string;
  state: StepState;
  durationMs?: number;
  detail?: string;
  error?: SerializedEventError;
}

/** One line of the card's checklist. */
export interface StepView {
  id: string;
  title: string;
  state: StepState;
  durationMs?: number;
  detail?: string;
  error?: SerializedEventError;
  /** The attempt in which the step last changed state. */
  attempt: number;
  /** True once the step's own final event (done, skipped, failed) has arrived. */
  reported: boolean;
  hosts: HostView[];
}

/** Everything the card and the thread show about a job, rebuilt by folding its event stream. */
export interface JobView {
  jobId: string;
  operation: string;
  cluster: string;
  state: JobState;
  attempt: number;
  steps: StepView[];
  error?: SerializedEventError;
  result?: unknown;
  startedAt?: string;
  endedAt?: string;
}

/** A job not yet heard from: what the card shows between posting and the first event. */
export function initialJobView(jobId: string, operation: string, cluster: string): JobView {
  return { jobId, operation, cluster, state: 'queued', attempt: 0, steps: [] };
}

/** True once the job completed or finally failed: the card will not change again. */
export function isJobEnded(view: JobView): boolean {
  return view.state === 'completed' || view.state === 'failed';
}

/** Folds one event into the view; pure, so replaying a stream from the start always gives the same card. */
export function applyEvent(view: JobView, event: ProgressEvent): JobView {
  return event.type === 'job' ? applyJobEvent(view, event) : applyStepEvent(view, event);
}

function applyJobEvent(view: JobView, event: JobEvent): JobView {
  const next: JobView = {
    ...view,
    operation: event.operation,
    cluster: event.cluster,
    state: event.state,
    attempt: Math.max(view.attempt, event.attempt),
  };
  switch (event.state) {
    case 'queued':
      // The enqueuer publishes `queued` after the add, so a quick worker's `started` can come first:
      // a job never goes back to queued (seen on the demo: "queued (2/3 steps)").
      return view.state === 'queued' ? next : view;
    case 'started': {
      const known = new Map(view.steps.map((s) => [s.id, s]));
      const declared = event.steps ?? view.steps.map((s) => ({ id: s.id, title: s.title }));
      // A new attempt re-runs what did not finish; finished steps keep their tick.
      const steps = declared.map(({ id, title }) => {
        const previous = known.get(id);
        if (!previous) return newStep(id, title, event.attempt);
        const finished = previous.state === 'done' || previous.state === 'skipped';
        return finished ? { ...previous, title } : { ...newStep(id, title, event.attempt) };
      });
      const undeclared = view.steps.filter((s) => !declared.some((d) => d.id === s.id));
      // A new attempt starts clean: the previous attempt's error is in the thread already.
      const started: JobView = { ...next, steps: [...steps, ...undeclared], startedAt: view.startedAt ?? event.at };
      delete started.error;
      return started;
    }
    case 'retrying':
      return {
        ...next,
        ...(event.error ? { error: event.error } : {}),
        steps: view.steps.map((s) =>
          s.state === 'running' ? { ...s, state: 'failed', ...(event.error ? { error: event.error } : {}) } : s,
        ),
      };
    case 'completed':
      return {
        ...next,
        result: event.result,
        endedAt: event.at,
        // Nothing can still be running once the job says it is done.
        steps: view.steps.map((s) => (s.state === 'running' ? { ...s, state: 'done' } : s)),
      };
    case 'failed':
      return {
        ...next,
        ...(event.error ? { error: event.error } : {}),
        endedAt: event.at,
        steps: view.steps.map((s) => {
          const culprit = event.error?.step === s.id;
          if (s.state !== 'running' && !culprit) return s;
          if (s.state === 'done' || s.state === 'skipped') return s;
          return { ...s, state: 'failed', ...(event.error && (culprit || !s.error) ? { error: event.error } : {}) };
        }),
      };
  }
}

function applyStepEvent(view: JobView, event: StepEvent): JobView {
  const exists = view.steps.some((s) => s.id === event.step);
  const steps = exists ? view.steps : [...view.steps, newStep(event.step, event.step, view.attempt)];
  return {
    ...view,
    steps: steps.map((step) => (step.id === event.step ? applyToStep(step, event, view.attempt) : step)),
  };
}

function applyToStep(previous: StepView, event: StepEvent, attempt: number): StepView {
  // A finished step run again by a later attempt (the always-run checks) starts without host rows:
  // the earlier attempt's "done" would stand for hosts this attempt has not reached (seen when a
  // host went dark: preflight failed, yet showed it done).
  const rerun = isStepLevelEvent(event) && event.state === 'running' && previous.attempt < attempt;
  const step = rerun ? { ...previous, hosts: [] } : previous;
  const fields = {
    state: event.state,
    ...(event.durationMs === undefined ? {} : { durationMs: event.durationMs }),
    ...(event.detail === undefined ? {} : { detail: event.detail }),
    ...(event.error === undefined ? {} : { error: event.error }),
  };
  let next = step;
  if (event.host !== undefined) {
    const hosts = step.hosts.some((h) => h.host === event.host)
      ? step.hosts.map((h) => (h.host === event.host ? { ...h, ...fields } : h))
      : [...step.hosts, { host: event.host, ...fields }];
    // A host starting work means the step is running, even before the step says so.
    const state = step.state === 'pending' && event.state === 'running' ? 'running' : step.state;
    next = { ...step, state, hosts, attempt };
  }
  if (!isStepLevelEvent(event)) return next;
  return { ...next, ...fields, attempt, reported: isFinishedState(event.state) };
}

/**
 * True for an event about the step as a whole. A failure names the host it happened on but is
 * still the step's failure: it carries the error.
 */
export function isStepLevelEvent(event: StepEvent): boolean {
  return event.host === undefined || (event.state === 'failed' && event.error !== undefined);
}

export function isFinishedState(state: StepState): boolean {
  return state === 'done' || state === 'skipped' || state === 'failed';
}

function newStep(id: string, title: string, attempt: number): StepView {
  return { id, title, state: 'pending', attempt, reported: false, hosts: [] };
}
