import type { Approval, ApprovalDecision } from '../../approvals/schema.js';
import type { Logger } from '../../log/logger.js';
import { auditFromSlack, slackAuditEntry } from '../audit.js';
import { authorizeRequest, hasRole } from '../authorize.js';
import type { BotDeps, SlackRequest } from '../deps.js';
import { buildClickRefusal, deniedOutcome, requestLabel } from '../messages/approval-card.js';
import type { ApprovalClickRefusal } from '../messages/approval-card.js';
import type { SlackMessage } from '../messages/mrkdwn.js';
import { buildBusyNotice } from '../messages/plan.js';
import { buildRefusal } from '../messages/refusal.js';
import { logRefusal } from '../listeners/log-refusal.js';
import { auditedApproval, closeApprovalCard, finishExpiredApproval } from './approval-outcome.js';
import { releaseApproval } from './approval-release.js';

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
export async function decideApproval(
  deps: BotDeps,
  click: ApprovalClick,
  decision: ApprovalDecision,
  log: Logger,
): Promise<void> {
  const verb = decision === 'approved' ? 'approve' : 'deny';
  const approval = await deps.approvals.get(click.approvalId);
  if (!approval) {
    // Nothing to audit against: without the record there is no operation or cluster to name.
    logRefusal(log, {
      user: click.user,
      channel: click.channel,
      command: `button: ${verb}`,
      reason: 'unknown_approval',
    });
    await click.reply(buildClickRefusal({ reason: 'unknown' }));
    return;
  }
  const refuse = async (message: SlackMessage, reason: string, detail: string): Promise<void> => {
    logRefusal(log, {
      user: click.user,
      channel: click.channel,
      command: `button: ${verb} ${requestLabel(approval)}`,
      reason,
    });
    await click.reply(message);
    await auditFromSlack(deps, auditedApproval(approval), 'refused', click.user, `${verb}: ${detail}`);
  };
  const access = authorizeRequest(deps.config.slack, click);
  if (!access.ok)
    return refuse(buildRefusal(access.refusal), access.refusal.reason, `${access.refusal.reason} not allowed`);
  // Slack only sends a card's clicks from the card's channel: anything else was not a click on it.
  if (approval.channel !== click.channel)
    return refuse(
      buildClickRefusal({ reason: 'unknown' }),
      'other_channel',
      `clicked from ${click.channel}, not the card's channel`,
    );
  if (!hasRole(access.roles, 'approver'))
    return refuse(buildClickRefusal({ reason: 'not_approver', user: click.user }), 'role', 'not an approver');
  if (decision === 'approved' && click.user === approval.requester && !deps.config.slack.allowSelfApproval) {
    return refuse(
      buildClickRefusal({ reason: 'own_request' }),
      'own_request',
      'the requester may not approve their own request',
    );
  }
  const now = deps.now();
  // Written by the script only if this click wins, in the same step: a decision is never unaudited or audited twice.
  const audit = slackAuditEntry({ now: () => now }, auditedApproval(approval), decision, click.user);
  const result = await deps.approvals.decide(approval.id, decision, click.user, now, audit);
  switch (result.outcome) {
    case 'missing':
      await click.reply(buildClickRefusal({ reason: 'unknown' }));
      return;
    case 'expired':
      // This click found it overdue before the sweeper did: it closes the card, once, as the sweeper would.
      await finishExpiredApproval(deps, result.approval, log);
      return refuse(
        buildClickRefusal({ reason: 'expired', atMs: result.approval.expiresAt }),
        'expired',
        'clicked after the request expired',
      );
    case 'already':
    case 'not_due':
      return refuse(
        buildClickRefusal(alreadyDecided(result.approval)),
        'decided',
        `the request was already ${result.approval.state}`,
      );
    case 'won':
      return decision === 'approved'
        ? runApproved(deps, click, result.approval, log)
        : finishDenied(deps, result.approval, log);
  }
}

function alreadyDecided(approval: Approval): ApprovalClickRefusal {
  if (approval.state === 'expired') return { reason: 'expired', atMs: approval.expiresAt };
  const state = approval.state === 'denied' ? 'denied' : 'approved';
  return {
    reason: 'decided',
    state,
    ...(approval.decidedBy ? { by: approval.decidedBy } : {}),
    ...(approval.decidedAt === undefined ? {} : { atMs: approval.decidedAt }),
  };
}

async function finishDenied(deps: BotDeps, approval: Approval, log: Logger): Promise<void> {
  const by = approval.decidedBy ?? 'unknown';
  await closeApprovalCard(deps, approval, deniedOutcome(by, approval.decidedAt ?? deps.now()));
  log.info({ approvalId: approval.id, deniedBy: by }, 'approval denied');
}

/**
 * The winning approval (audited by the script that let it win) is released: queued with the
 * approval as its authorization and the card as the job's card. A bot that dies on the way leaves
 * it on the releasing set, and the sweeper finishes it through the same code. If another operation
 * took the cluster since the request, the card says so, and so is the clicker told.
 */
async function runApproved(deps: BotDeps, click: ApprovalClick, approval: Approval, log: Logger): Promise<void> {
  const outcome = await releaseApproval(deps, approval.id, log, click.teamDomain);
  if (outcome.status === 'busy') await click.reply(buildBusyNotice(approval.cluster, outcome.running));
}
