import type { StepState } from '../../steps/schema.js';
import type { JobState, JobView, StepView } from '../job-view.js';
import type { Block, SlackMessage } from './mrkdwn.js';
import {
  context,
  escapeText,
  formatDuration,
  inlineCode,
  link,
  mention,
  plainText,
  section,
  sectionsOf,
} from './mrkdwn.js';

/** Who asked and where the card lives: what the card shows besides the job's events. */
export interface JobCardMeta {
  user: string;
  requestedAt?: string;
  /** The node a node.* operation acts on, shown in the title. */
  node?: string;
  /** Who released a destructive operation from its approval card, and when (ISO). */
  approvedBy?: string;
  approvedAt?: string;
}

const JOB_STATE_LINE: Record<JobState, string> = {
  queued: ':hourglass: queued — waiting for a worker',
  started: ':arrows_counterclockwise: running',
  retrying: ':repeat: retrying after a transient failure',
  completed: ':white_check_mark: completed',
  failed: ':x: failed',
};

/** The card's state in one word, for notifications (`text`). */
const JOB_STATE_WORD: Record<JobState, string> = {
  queued: 'queued',
  started: 'running',
  retrying: 'retrying',
  completed: 'completed',
  failed: 'failed',
};

const STEP_ICON: Record<StepState, string> = {
  pending: ':white_circle:',
  running: ':arrows_counterclockwise:',
  done: ':white_check_mark:',
  skipped: ':fast_forward:',
  failed: ':x:',
};

/** The job card: operation, who asked, the job's state and a checklist of steps with durations. */
export function buildJobCard(view: JobView, meta: JobCardMeta): SlackMessage {
  const title = [view.operation, view.cluster, meta.node].filter(Boolean).join(' ');
  const attempt = view.attempt > 1 ? ` (attempt ${view.attempt})` : '';
  const blocks: Block[] = [
    section(`*${escapeText(title)}* — ${JOB_STATE_LINE[view.state]}${attempt}`),
    context(
      [
        `requested by ${mention(meta.user)}`,
        meta.approvedBy
          ? `approved by ${mention(meta.approvedBy)}${meta.approvedAt ? ` at ${escapeText(meta.approvedAt)}` : ''}`
          : undefined,
        view.jobId ? `job ${inlineCode(view.jobId)}` : undefined,
        meta.requestedAt ? escapeText(meta.requestedAt) : undefined,
      ]
        .filter(Boolean)
        .join(' · '),
    ),
  ];
  if (view.steps.length > 0) blocks.push(...sectionsOf(view.steps.map(stepLine), 40));
  if (view.state === 'failed' && view.error) {
    const where = [
      view.error.step && `step ${inlineCode(view.error.step)}`,
      view.error.host && `host ${inlineCode(view.error.host)}`,
    ]
      .filter(Boolean)
      .join(' on ');
    blocks.push(
      context(
        `:warning: ${inlineCode(view.error.code)}${where ? ` at ${where}` : ''}` +
          ` — evidence and what to do next are in the thread`,
      ),
    );
  }
  if (view.state === 'completed')
    blocks.push(
      context(
        view.operation === 'cluster.create'
          ? 'status card and transport_url are in the thread'
          : 'the result, per node, is in the thread',
      ),
    );
  return { text: plainText(`${title}: ${JOB_STATE_WORD[view.state]}${summaryOf(view)}`), blocks };
}

function stepLine(step: StepView): string {
  const parts = [`${STEP_ICON[step.state]} ${escapeText(step.title)}`];
  // A skipped step's time is the check that found nothing to do: its reason says more.
  if (step.durationMs !== undefined && (step.state === 'done' || step.state === 'failed'))
    parts.push(`— ${formatDuration(step.durationMs)}`);
  if (step.state === 'running' && step.hosts.length > 0) {
    const finished = step.hosts.filter((h) => h.state === 'done' || h.state === 'skipped').length;
    parts.push(`— ${finished}/${step.hosts.length} hosts`);
  }
  if (step.state === 'failed') {
    const failedHosts = step.hosts.filter((h) => h.state === 'failed').map((h) => h.host);
    const host = failedHosts.length > 0 ? failedHosts.join(', ') : step.error?.host;
    if (host) parts.push(`— failed on ${inlineCode(host)}`);
  }
  if (step.state === 'skipped' && step.detail) parts.push(`— ${escapeText(step.detail.split('\n')[0].slice(0, 120))}`);
  return parts.join(' ');
}

function summaryOf(view: JobView): string {
  if (view.steps.length === 0) return '';
  const finished = view.steps.filter((s) => s.state === 'done' || s.state === 'skipped').length;
  return ` (${finished}/${view.steps.length} steps)`;
}

/** A card posted for a create that lost the race for its cluster: it never started. */
export function buildNotStartedCard(cluster: string, user: string, runningLink: string | undefined): SlackMessage {
  const where = runningLink ? ` — follow ${link(runningLink, 'the running operation')}` : '';
  return {
    text: plainText(`cluster.create ${cluster}: not started, another operation holds the cluster`),
    blocks: [
      section(
        `*cluster.create ${escapeText(cluster)}* — :no_entry_sign: not ` +
          `started: another operation holds the cluster${where}`,
      ),
      context(`requested by ${mention(user)}`),
    ],
  };
}
