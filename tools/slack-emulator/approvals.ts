import type { Redis } from 'ioredis';
import type { Approval } from '../../src/approvals/schema.js';
import { ApprovalStore } from '../../src/approvals/store.js';
import { AuditLog } from '../../src/audit/store.js';
import type { OperationsQueue } from '../../src/queue/queue.js';
import { auditedApproval } from '../../src/slack/handlers/approval-outcome.js';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/slack/messages/approval-card.js';
import type { SlackDriver } from './driver.js';
import type { EmulatedMessage, SlackEmulator } from './emulator.js';

export { APPROVE_ACTION, DENY_ACTION };

/** An approval card as the emulated channel holds it, with the approval id its buttons carry. */
export interface FoundApprovalCard {
  message: EmulatedMessage;
  ts: string;
  approvalId: string;
}

interface ButtonLike {
  type?: string;
  action_id?: string;
  value?: string;
}

/** The approval id on a message's Approve button, if it still has one. */
export function approvalIdOf(message: Pick<EmulatedMessage, 'blocks'>): string | undefined {
  for (const block of (message.blocks ?? []) as { type?: string; elements?: ButtonLike[] }[]) {
    if (block.type !== 'actions') continue;
    const approve = block.elements?.find((e) => e.action_id === APPROVE_ACTION);
    if (approve?.value) return approve.value;
  }
  return undefined;
}

/**
 * The approval cards the bot posted in `channel` (found in the emulator's recorded chat.postMessage
 * calls), oldest first, whatever they look like now. `message` is the card as it is now.
 */
export function approvalCards(emulator: SlackEmulator, channel: string): FoundApprovalCard[] {
  const cards: FoundApprovalCard[] = [];
  for (const message of emulator.channelMessages(channel)) {
    const approvalId = approvalIdOf(message.history[0] ?? message);
    if (approvalId) cards.push({ message, ts: message.ts, approvalId });
  }
  return cards;
}

/** Waits for the `index`th approval card in `channel` (default: the first). */
export async function waitForApprovalCard(
  emulator: SlackEmulator,
  channel: string,
  index = 0,
): Promise<FoundApprovalCard> {
  return emulator.waitFor(() => approvalCards(emulator, channel)[index], `approval card #${index + 1} in ${channel}`);
}

/** Presses Approve or Deny on a card as `user`, as Slack sends it (signed, form-encoded `payload=`). */
export async function pressApprovalButton(
  driver: SlackDriver,
  card: FoundApprovalCard,
  button: 'approve' | 'deny',
  user: string,
  channel = card.message.channel,
) {
  return driver.interaction(
    driver.blockAction({
      actionId: button === 'approve' ? APPROVE_ACTION : DENY_ACTION,
      value: card.approvalId,
      user,
      channel,
      messageTs: card.ts,
    }),
  );
}

/**
 * Approves as a winning click does, through the same Lua script (state, releasing set and the
 * `approved` audit entry in one step), and stops there: what a bot that dies right after winning
 * leaves in Redis. Returns the approval as decided.
 */
export async function winWithoutRelease(
  redis: Redis,
  prefix: string,
  approvalId: string,
  user: string,
  nowMs: number,
): Promise<Approval> {
  const store = new ApprovalStore(redis, prefix);
  const approval = await store.get(approvalId);
  if (!approval) throw new Error(`no approval ${approvalId} under ${prefix}`);
  const result = await store.decide(approvalId, 'approved', user, nowMs, {
    ...auditedApproval(approval),
    event: 'approved',
    actor: user,
    at: new Date(nowMs).toISOString(),
    via: 'slack',
  });
  if (result.outcome !== 'won') throw new Error(`approval ${approvalId}: ${result.outcome}, not won`);
  return result.approval;
}

/** Every job the queue holds, in whatever state: a test counts jobs, whoever ran them. */
export async function allJobs(queue: OperationsQueue) {
  return queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
}

/** The audit log under a prefix as "event actor" lines, oldest first. */
export async function auditTrail(redis: Redis, prefix: string): Promise<string[]> {
  return (await new AuditLog(redis, prefix).latest({ limit: 100 })).map(({ entry }) => `${entry.event} ${entry.actor}`);
}
