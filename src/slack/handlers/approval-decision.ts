import type { Approval, ApprovalDecision } from '../../approvals/schema.js';
import type { Logger } from '../../log/logger.js';
import { enqueueOperation } from '../../queue/enqueue.js';
import type { EnqueueResult } from '../../queue/enqueue.js';
import { auditFromSlack } from '../audit.js';
import { authorizeRequest, hasRole } from '../authorize.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { initialJobView } from '../job-view.js';
import { buildClickRefusal, busyOutcome, deniedOutcome, notQueuedOutcome, requestLabel } from '../messages/approval-card.js';
import type { ApprovalClickRefusal } from '../messages/approval-card.js';
import { buildJobCard } from '../messages/job-card.js';
import type { SlackMessage } from '../messages/mrkdwn.js';
import { permalinkFor } from '../messages/mrkdwn.js';
import { buildBusyNotice } from '../messages/plan.js';
import { buildRefusal } from '../messages/refusal.js';
import { logRefusal } from '../listeners/log-refusal.js';
import { auditedApproval, closeApprovalCard, finishExpiredApproval } from './approval-outcome.js';
import { describeRunning } from './cluster-create.js';

/** A press of Approve or Deny: who, where, which approval, and how to answer the clicker privately. */
export interface ApprovalClick extends SlackRequest {
  approvalId: string;
}

/**
 * After the ack of Approve or Deny. Refusals (channel or user not allowed, no approver role, the
 * requester's own approval, an unknown, decided or expired request) change nothing, answer the
 * clicker privately and are audited with the clicker as actor. Otherwise the Lua script decides:
 * of any number of clicks, exactly one wins and acts.
 */
export async function decideApproval(deps: BotDeps, click: ApprovalClick, decision: ApprovalDecision, log: Logger): Promise<void> {
  const verb = decision === 'approved' ? 'approve' : 'deny';
  const approval = await deps.approvals.get(click.approvalId);
  if (!approval) {
    // Nothing to audit against: without the record there is no operation or cluster to name.
    logRefusal(log, { user: click.user, channel: click.channel, command: `button: ${verb}`, reason: 'unknown_approval' });
    await click.reply(buildClickRefusal({ reason: 'unknown' }));
    return;
  }
  const refuse = async (message: SlackMessage, reason: string, detail: string): Promise<void> => {
    logRefusal(log, { user: click.user, channel: click.channel, command: `button: ${verb} ${requestLabel(approval)}`, reason });
    await click.reply(message);
    await auditFromSlack(deps, { ...auditedApproval(approval), event: 'refused', actor: click.user, detail: `${verb}: ${detail}` });
  };
  const access = authorizeRequest(deps.config.slack, click);
  if (!access.ok) return refuse(buildRefusal(access.refusal), access.refusal.reason, `${access.refusal.reason} not allowed`);
  // Slack only sends a card's clicks from the card's channel: anything else was not a click on it.
  if (approval.channel !== click.channel) return refuse(buildClickRefusal({ reason: 'unknown' }), 'other_channel', `clicked from ${click.channel}, not the card's channel`);
  if (!hasRole(access.roles, 'approver')) return refuse(buildClickRefusal({ reason: 'not_approver', user: click.user }), 'role', 'not an approver');
  if (decision === 'approved' && click.user === approval.requester && !deps.config.slack.allowSelfApproval) {
    return refuse(buildClickRefusal({ reason: 'own_request' }), 'own_request', 'the requester may not approve their own request');
  }
  const result = await deps.approvals.decide(approval.id, decision, click.user, deps.now());
  switch (result.outcome) {
    case 'missing':
      await click.reply(buildClickRefusal({ reason: 'unknown' }));
      return;
    case 'expired':
      // This click found it overdue before the sweeper did: it closes the card, once, as the sweeper would.
      await finishExpiredApproval(deps, result.approval, log);
      return refuse(buildClickRefusal({ reason: 'expired', atMs: result.approval.expiresAt }), 'expired', 'clicked after the request expired');
    case 'already':
    case 'not_due':
      return refuse(buildClickRefusal(alreadyDecided(result.approval)), 'decided', `the request was already ${result.approval.state}`);
    case 'won':
      return decision === 'approved' ? runApproved(deps, click, result.approval, log) : finishDenied(deps, result.approval, log);
  }
}

function alreadyDecided(approval: Approval): ApprovalClickRefusal {
  if (approval.state === 'expired') return { reason: 'expired', atMs: approval.expiresAt };
  const state = approval.state === 'denied' ? 'denied' : 'approved';
  return { reason: 'decided', state, ...(approval.decidedBy ? { by: approval.decidedBy } : {}), ...(approval.decidedAt === undefined ? {} : { atMs: approval.decidedAt }) };
}

async function finishDenied(deps: BotDeps, approval: Approval, log: Logger): Promise<void> {
  const by = approval.decidedBy ?? 'unknown';
  await auditFromSlack(deps, { ...auditedApproval(approval), event: 'denied', actor: by });
  await closeApprovalCard(deps, approval, deniedOutcome(by, approval.decidedAt ?? deps.now()));
  log.info({ approvalId: approval.id, deniedBy: by }, 'approval denied');
}

/**
 * The winning approval: audited, then queued with the approval as its authorization and the card
 * as the job's card. If another operation took the cluster since the request, the card says so.
 */
async function runApproved(deps: BotDeps, click: ApprovalClick, approval: Approval, log: Logger): Promise<void> {
  const approvedBy = click.user;
  const approvedAtMs = approval.decidedAt ?? deps.now();
  const approvedAt = new Date(approvedAtMs).toISOString();
  const requestedAt = new Date(approval.createdAt).toISOString();
  await auditFromSlack(deps, { ...auditedApproval(approval), event: 'approved', actor: approvedBy });
  let queued: EnqueueResult;
  try {
    queued = await enqueueApproved(deps, approval, approvedBy, requestedAt);
  } catch (error) {
    // Approved, yet nothing queued: the card must not suggest that the operation runs.
    const message = error instanceof Error ? error.message : String(error);
    await auditFromSlack(deps, { ...auditedApproval(approval), event: 'refused', actor: approvedBy, detail: `approved but not queued: ${message}`.slice(0, 500) });
    await closeApprovalCard(deps, approval, notQueuedOutcome(approvedBy, approvedAtMs, message));
    throw error;
  }
  if (queued.status === 'busy') {
    const running = await describeRunning(deps, queued.jobId, approval.teamDomain ?? click.teamDomain);
    await auditFromSlack(deps, { ...auditedApproval(approval), event: 'refused', actor: approvedBy, detail: `approved but not run: cluster busy (job ${queued.jobId})` });
    await closeApprovalCard(deps, approval, busyOutcome(approvedBy, approvedAtMs, running));
    await click.reply(buildBusyNotice(approval.cluster, running));
    log.info({ approvalId: approval.id, runningJobId: queued.jobId }, 'approved but not run: cluster busy');
    return;
  }
  const { jobId } = queued;
  await deps.approvals.setJobId(approval.id, jobId);
  const card = {
    channel: approval.channel,
    ts: approval.cardTs,
    user: approval.requester,
    operation: approval.operation,
    cluster: approval.cluster,
    ...(approval.node ? { node: approval.node } : {}),
    permalink: permalinkFor(approval.teamDomain ?? click.teamDomain, approval.channel, approval.cardTs),
    requestedAt,
    approvedBy,
    approvedAt,
  };
  await deps.store.saveCard(jobId, card);
  // The buttons go at once; the reporter redraws this card from the job's events from now on.
  const jobCard = buildJobCard(initialJobView(jobId, approval.operation, approval.cluster), card);
  await deps.client.chat.update({ channel: approval.channel, ts: approval.cardTs, text: jobCard.text, blocks: jobCard.blocks });
  deps.reporter.track(jobId);
  log.info({ approvalId: approval.id, jobId, approvedBy }, 'approved operation queued');
}

/** Queues the approved operation: the approval is its authorization, the approval card its card. */
async function enqueueApproved(deps: BotDeps, approval: Approval, approvedBy: string, requestedAt: string): Promise<EnqueueResult> {
  return enqueueOperation(deps.queue, deps.redis, {
    operation: approval.operation,
    cluster: approval.cluster,
    ...(approval.node ? { node: approval.node } : {}),
    // The card showed what a join wipes, and an approver accepted it.
    options: { allowWipe: approval.operation === 'node.add' },
    origin: { kind: 'slack', user: approval.requester, channel: approval.channel, cardTs: approval.cardTs },
    authorization: { kind: 'approval', approvalId: approval.id, approvedBy },
    requestedAt,
  });
}
