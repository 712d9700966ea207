import { describeError } from '../../errors.js';
import type { ClusterCreateResult, MaintenanceResult } from '../../operations/schema.js';
import type { JobView, SerializedEventError, StepView } from '../job-view.js';
import type { SlackMessage } from './mrkdwn.js';
import {
  codeBlock,
  context,
  escapeText,
  formatDuration,
  inlineCode,
  plainText,
  section,
  sectionsOf,
} from './mrkdwn.js';

/** A step's thread reply: its detail and each host's part, or its failure. */
export function buildStepReply(step: StepView): SlackMessage {
  const icon = step.state === 'failed' ? ':x:' : step.state === 'skipped' ? ':fast_forward:' : ':white_check_mark:';
  const duration = step.durationMs === undefined ? '' : ` in ${formatDuration(step.durationMs)}`;
  const lines = [`${icon} *${escapeText(step.title)}* ${escapeText(step.state)}${duration}`];
  if (step.detail) lines.push(escapeText(step.detail));
  for (const host of step.hosts) {
    const hostDuration = host.durationMs === undefined ? '' : ` (${formatDuration(host.durationMs)})`;
    const detail = host.detail ? ` — ${escapeText(host.detail)}` : '';
    lines.push(`• ${inlineCode(host.host)}: ${escapeText(host.state)}${hostDuration}${detail}`);
    if (host.error) lines.push(`    ${inlineCode(host.error.code)} ${escapeText(host.error.message.slice(0, 300))}`);
  }
  if (step.state === 'failed' && step.error && !step.hosts.some((h) => h.error))
    lines.push(`${inlineCode(step.error.code)} ${escapeText(step.error.message.slice(0, 500))}`);
  return { text: plainText(`${step.title}: ${step.state}`), blocks: sectionsOf(lines, 10) };
}

/** A failed attempt that will be retried: what went wrong, briefly. */
export function buildRetryReply(view: JobView): SlackMessage {
  const reason = view.error
    ? `${inlineCode(view.error.code)} ${escapeText(view.error.message.slice(0, 500))}`
    : 'a transient failure';
  return {
    text: plainText(`attempt ${view.attempt} of ${view.operation} ${view.cluster} failed; retrying`),
    blocks: [section(`:repeat: Attempt ${view.attempt} failed: ${reason}\nRetrying; finished steps are not repeated.`)],
  };
}

/** The end of a failed job: where it failed, the evidence (already redacted by the worker), and what to do next. */
export function buildFailureReply(view: JobView): SlackMessage {
  const error: SerializedEventError = view.error ?? {
    code: 'internal',
    message: 'the job failed without reporting why',
    retryable: false,
  };
  const where = [error.step && `step ${inlineCode(error.step)}`, error.host && `host ${inlineCode(error.host)}`]
    .filter(Boolean)
    .join(', ');
  const blocks = [
    section(`:x: *${escapeText(view.operation)} ${escapeText(view.cluster)} failed*${where ? ` at ${where}` : ''}`),
    // describeError is the one place an error becomes operator text.
    section(codeBlock(describeError(error))),
  ];
  blocks.push(section(`*What to do next:* ${escapeText(error.hint ?? defaultHint(view.operation))}`));
  return { text: plainText(`${view.operation} ${view.cluster} failed: ${error.code}: ${error.message}`), blocks };
}

/** The end of a create: the oslo.messaging transport_url template, replication and warnings. */
export function buildTransportReply(result: ClusterCreateResult): SlackMessage {
  const blocks = [
    section(`:link: *transport_url* for oslo.messaging (replace USER and PASS):\n${codeBlock(result.transportUrl)}`),
    section(`*Replication:* ${escapeText(result.replication.mode)} — ${escapeText(result.replication.detail)}`),
  ];
  if (result.warnings.length > 0)
    blocks.push(...sectionsOf([':warning: *Warnings*', ...result.warnings.map((w) => `• ${escapeText(w)}`)], 5));
  blocks.push(context(stepCounts(result.steps)));
  return { text: plainText(`transport_url: ${result.transportUrl}`), blocks };
}

/** "9 steps: 7 done, 2 skipped", the closing line of every result reply. */
function stepCounts(steps: readonly { state: string }[]): string {
  const done = steps.filter((s) => s.state === 'done').length;
  const skipped = steps.filter((s) => s.state === 'skipped').length;
  return `${steps.length} steps: ${done} done, ${skipped} skipped`;
}

/** Only a create resumes where it stopped; a destructive operation needs a new approval. */
function defaultHint(operation: string): string {
  return operation === 'cluster.create'
    ? 'fix the cause shown above, then run `/rabbit cluster create` again: finished steps are skipped.'
    : 'fix the cause shown above, then ask again with the same `/rabbit` command: it needs a new approval.';
}

/** The end of a node reset/remove/add or a teardown: what it did, to each node, and any warnings. */
export function buildMaintenanceReply(result: MaintenanceResult): SlackMessage {
  const lines = [
    `:white_check_mark: ${escapeText(result.summary)}`,
    ...result.nodes.map((n) => `• ${inlineCode(n.host)}: ${escapeText(n.outcome)}`),
  ];
  const blocks = sectionsOf(lines, 10);
  if (result.warnings.length > 0)
    blocks.push(...sectionsOf([':warning: *Warnings*', ...result.warnings.map((w) => `• ${escapeText(w)}`)], 5));
  blocks.push(context(stepCounts(result.steps)));
  return { text: plainText(result.summary), blocks };
}
