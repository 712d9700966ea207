import type { Approval } from '../../approvals/schema.js';
import type { Logger } from '../../log/logger.js';
import { WARREN_ACTOR, auditFromSlack } from '../audit.js';
import type { BotDeps } from '../deps.js';
import { expiredOutcome, withOutcome } from '../messages/approval-card.js';
import type { Block, SlackMessage, SlackText } from '../messages/mrkdwn.js';

/** The approval card as saved (no buttons), typed back as the text and blocks we wrote (escaped when built). */
export function savedCard(approval: Approval): SlackMessage {
  return { text: approval.card.text as SlackText, blocks: approval.card.blocks as unknown as Block[] };
}

/** The fields every audit entry about this approval carries. */
export function auditedApproval(approval: Approval): {
  operation: Approval['operation'];
  cluster: string;
  node?: string;
  approvalId: string;
} {
  return {
    operation: approval.operation,
    cluster: approval.cluster,
    ...(approval.node ? { node: approval.node } : {}),
    approvalId: approval.id,
  };
}

/** Replaces the card's buttons with what became of the request. */
export async function closeApprovalCard(
  deps: Pick<BotDeps, 'client'>,
  approval: Approval,
  outcome: { icon: string; line: string; text: string },
): Promise<void> {
  const card = withOutcome(savedCard(approval), outcome);
  await deps.client.chat.update({
    channel: approval.channel,
    ts: approval.cardTs,
    text: card.text,
    blocks: card.blocks,
  });
}

/**
 * After this process moved an approval to expired (the sweeper, or a late click): audit it and
 * close its card. Only the one caller the Lua script let through gets here, so this runs once.
 */
export async function finishExpiredApproval(
  deps: Pick<BotDeps, 'client' | 'audit' | 'now'>,
  approval: Approval,
  log: Logger,
): Promise<void> {
  const at = approval.decidedAt ?? deps.now();
  await auditFromSlack(
    deps,
    auditedApproval(approval),
    'expired',
    WARREN_ACTOR,
    `nobody decided within ${approval.timeoutMinutes} min`,
  );
  await closeApprovalCard(deps, approval, expiredOutcome(at, approval.timeoutMinutes));
  log.info({ approvalId: approval.id, cluster: approval.cluster }, 'approval expired');
}
