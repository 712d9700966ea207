import { ZodError } from 'zod';
import type { AuditEntry } from '../../audit/schema.js';
import type { Approval } from '../../approvals/schema.js';
import { messageOf } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import type { EnqueueResult } from '../../queue/enqueue.js';
import { approvalJobId, releaseApprovedRequest } from '../../requests/approval-release.js';
import type { BotDeps } from '../deps.js';
import { initialJobView } from '../job-view.js';
import { busyOutcome, notQueuedOutcome } from '../messages/approval-card.js';
import { buildJobCard } from '../messages/job-card.js';
import { permalinkFor } from '../messages/mrkdwn.js';
import { auditedApproval, closeApprovalCard } from './approval-outcome.js';
import { slackAuditEntry } from '../audit.js';
import { requestPortsOf } from '../request-ports.js';
import { describeRunning } from './cluster-create.js';

/**
 * How long one releaser holds an approval: far longer than a release takes (a queue add, a card
 * record, one chat.update). A releaser that dies leaves a lock that lapses; the sweeper then retries.
 */
export const RELEASE_LOCK_MS = 60_000;

/** What became of one attempt to release an approval. */
export type ReleaseOutcome =
  | { status: 'queued'; jobId: string }
  /** Another operation holds the cluster: the approval ends unrun (card and audit say so). */
  | { status: 'busy'; running: Awaited<ReturnType<typeof describeRunning>> }
  /** The request cannot become a job however often it is tried (invalid job data). */
  | { status: 'not_queued'; reason: string }
  /** Nothing to do here: another releaser holds it, or it was released already. */
  | { status: 'skipped' };

/**
 * Releases an approved request: queues its job (the approval as authorization, the approval card
 * as its card), records the job on the approval, saves the card record, turns the card into the job
 * card and hands it to the reporter; then takes the approval off the releasing set. Every part may
 * be repeated, so the click that won and any later recovery run this same code, and a bot that
 * died half-way is finished by the next sweep: exactly one job, one card, one audit entry.
 * Errors other than invalid data (Redis, Slack) leave the approval releasing for the next sweep.
 */
export async function releaseApproval(
  deps: BotDeps,
  approvalId: string,
  log: Logger,
  teamDomain?: string,
): Promise<ReleaseOutcome> {
  const token = await deps.approvals.lockRelease(approvalId, RELEASE_LOCK_MS);
  if (!token) return { status: 'skipped' };
  try {
    // Checked under the lock: a releaser that finished a moment ago has taken it off the set.
    if (!(await deps.approvals.isReleasing(approvalId))) return { status: 'skipped' };
    const approval = await deps.approvals.get(approvalId);
    if (!approval || approval.state !== 'approved' || !approval.decidedBy) {
      // Gone (kept 30 days after expiry) or unreadable: there is nothing trustworthy left to run.
      log.warn({ approvalId, state: approval?.state }, 'approved request not releasable: record missing or unreadable');
      await deps.approvals.finishRelease(approvalId);
      return { status: 'skipped' };
    }
    return await release(deps, approval, approval.decidedBy, log, approval.teamDomain ?? teamDomain);
  } finally {
    await deps.approvals.unlockRelease(approvalId, token);
  }
}

async function release(
  deps: BotDeps,
  approval: Approval,
  approvedBy: string,
  log: Logger,
  teamDomain: string | undefined,
): Promise<ReleaseOutcome> {
  const jobId = approvalJobId(approval.id);
  const approvedAtMs = approval.decidedAt ?? deps.now();
  const requestedAt = new Date(approval.createdAt).toISOString();
  const refused = (detail: string): AuditEntry =>
    slackAuditEntry(deps, auditedApproval(approval), 'refused', approvedBy, detail);
  // Recorded only once the job is queued: a job id on the approval means the add went through.
  if (approval.jobId !== jobId) {
    let queued: EnqueueResult;
    try {
      queued = await releaseApprovedRequest(requestPortsOf(deps, log), approval, approvedBy);
    } catch (error) {
      if (!(error instanceof ZodError)) throw error;
      // Invalid job data stays invalid: retrying cannot help, so the card must not suggest it runs.
      const reason = error.issues.map((issue) => issue.message).join('; ');
      await closeApprovalCard(deps, approval, notQueuedOutcome(approvedBy, approvedAtMs, reason));
      await deps.approvals.finishRelease(approval.id, refused(`approved but not queued: ${reason}`));
      log.warn({ approvalId: approval.id, reason }, 'approved but not queued');
      return { status: 'not_queued', reason };
    }
    if (queued.status === 'busy') {
      const running = await describeRunning(deps, queued.jobId, teamDomain);
      // The card first: a crash before the set is updated repeats both, and the audit stays single.
      await closeApprovalCard(deps, approval, busyOutcome(approvedBy, approvedAtMs, running));
      await deps.approvals.finishRelease(
        approval.id,
        refused(`approved but not run: cluster busy (job ${queued.jobId})`),
      );
      log.info({ approvalId: approval.id, runningJobId: queued.jobId }, 'approved but not run: cluster busy');
      return { status: 'busy', running };
    }
    await deps.approvals.setJobId(approval.id, jobId);
  }
  // A saved card record means an earlier release got this far: the card is the reporter's now
  // (it draws it if our update never happened), and drawing "queued" again could set it back.
  if (!(await deps.store.getCard(jobId))) {
    const card = {
      channel: approval.channel,
      ts: approval.cardTs,
      user: approval.requester,
      operation: approval.operation,
      cluster: approval.cluster,
      ...(approval.node ? { node: approval.node } : {}),
      permalink: permalinkFor(teamDomain, approval.channel, approval.cardTs),
      requestedAt,
      approvedBy,
      approvedAt: new Date(approvedAtMs).toISOString(),
    };
    await deps.store.saveCard(jobId, card);
    // The buttons go at once; the reporter redraws this card from the job's events from now on.
    const jobCard = buildJobCard(initialJobView(jobId, approval.operation, approval.cluster), card);
    await deps.client.chat.update({
      channel: approval.channel,
      ts: approval.cardTs,
      text: jobCard.text,
      blocks: jobCard.blocks,
    });
  }
  deps.reporter.track(jobId);
  await deps.approvals.finishRelease(approval.id);
  log.info({ approvalId: approval.id, jobId, approvedBy }, 'approved operation queued');
  return { status: 'queued', jobId };
}

/**
 * Releases every approval left releasing: won by a click whose bot died before finishing, or
 * whose release failed on Redis or Slack. Called at bot start and on every sweep. Returns how many
 * it finished now (queued, busy or not queued).
 */
export async function releasePendingApprovals(deps: BotDeps, logger: Logger): Promise<number> {
  let finished = 0;
  for (const id of await deps.approvals.releasing()) {
    const log = logger.child({ approvalId: id, via: 'recovery' });
    try {
      const outcome = await releaseApproval(deps, id, log);
      if (outcome.status !== 'skipped') finished += 1;
    } catch (error) {
      // Still on the releasing set: the next sweep tries again.
      log.warn({ err: messageOf(error) }, 'could not release an approved request; will retry');
    }
  }
  return finished;
}
