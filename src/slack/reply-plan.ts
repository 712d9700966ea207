import type { ProgressEvent } from '../operations/progress.js';
import { ClusterCreateResult, MaintenanceResult } from '../operations/schema.js';
import { ClusterHealth } from '../rabbit/cluster-status.js';
import { isFinishedState, isStepLevelEvent } from './job-view.js';
import type { JobView, StepView } from './job-view.js';
import type { SlackMessage } from './messages/mrkdwn.js';
import { plainText, section } from './messages/mrkdwn.js';
import {
  buildFailureReply,
  buildMaintenanceReply,
  buildRetryReply,
  buildStepReply,
  buildTransportReply,
} from './messages/replies.js';
import { buildStatusCard } from './messages/status-card.js';

/** A thread reply and the key that makes it post once: the same key is never posted twice for a job. */
export interface PlannedReply {
  key: string;
  message: SlackMessage;
}

/**
 * The thread replies one event calls for, given the view after it. Pure: the reporter
 * replays streams after restarts, and the keys (not the replay) decide what was already posted.
 */
export function repliesForEvent(event: ProgressEvent, after: JobView): PlannedReply[] {
  if (event.type === 'step') {
    if (!isStepLevelEvent(event) || !isFinishedState(event.state)) return [];
    const step = after.steps.find((s) => s.id === event.step);
    return step && deservesReply(step) ? [stepReply(step)] : [];
  }
  switch (event.state) {
    case 'retrying':
      return [...unreportedSteps(after), { key: `retry:${after.attempt}`, message: buildRetryReply(after) }];
    case 'failed':
      return [...unreportedSteps(after), { key: 'job:failed', message: buildFailureReply(after) }];
    case 'completed':
      return [...unreportedSteps(after), ...completionReplies(after)];
    default:
      return [];
  }
}

function completionReplies(view: JobView): PlannedReply[] {
  const parsed = ClusterCreateResult.safeParse(view.result);
  if (parsed.success) {
    // The thread ends with the cluster's health: the last thing a reader should see.
    return [
      { key: 'job:transport', message: buildTransportReply(parsed.data) },
      { key: 'job:status', message: buildStatusCard(parsed.data.health) },
    ];
  }
  const maintenance = MaintenanceResult.safeParse(view.result);
  if (maintenance.success) {
    const result: PlannedReply = { key: 'job:result', message: buildMaintenanceReply(maintenance.data) };
    // After a teardown there is no cluster left to show; otherwise end with what is left of it.
    return maintenance.data.health
      ? [result, { key: 'job:status', message: buildStatusCard(maintenance.data.health) }]
      : [result];
  }
  // A result of another shape still shows what we can read of it, rather than nothing.
  const health = ClusterHealth.safeParse((view.result as { health?: unknown } | undefined)?.health);
  if (health.success) return [{ key: 'job:status', message: buildStatusCard(health.data) }];
  return [
    {
      key: 'job:status',
      message: {
        text: plainText('completed'),
        blocks: [
          section(
            ':white_check_mark: Completed. The result did not include a cluster ' +
              'status; run `/rabbit status` to see it.',
          ),
        ],
      },
    },
  ];
}

/** Steps whose hosts reported but which never got a whole-step event: flushed when the job ends. */
function unreportedSteps(view: JobView): PlannedReply[] {
  return view.steps.filter((s) => !s.reported && s.hosts.length > 0).map(stepReply);
}

function stepReply(step: StepView): PlannedReply {
  // Done and skipped share a key: a retry that skips an already-done step says nothing new.
  const key = step.state === 'failed' ? `step:${step.id}:failed:${step.attempt}` : `step:${step.id}:finished`;
  return { key, message: buildStepReply(step) };
}

/**
 * A failure always; a done step when it has something to say; a skipped step only for host output (its reason is on
 * the card).
 */
function deservesReply(step: StepView): boolean {
  if (step.state === 'failed') return true;
  if (step.state === 'skipped') return step.hosts.length > 0;
  return step.detail !== undefined || step.hosts.length > 0;
}
