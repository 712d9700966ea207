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
export async function waitForApprovalCard(emulator: SlackEmulator, channel: string, index = 0): Promise<FoundApprovalCard> {
  return emulator.waitFor(() => approvalCards(emulator, channel)[index], `approval card #${index + 1} in ${channel}`);
}

/** Presses Approve or Deny on a card as `user`, as Slack sends it (signed, form-encoded `payload=`). */
export async function pressApprovalButton(driver: SlackDriver, card: FoundApprovalCard, button: 'approve' | 'deny', user: string, channel = card.message.channel) {
  return driver.interaction(driver.blockAction({ actionId: button === 'approve' ? APPROVE_ACTION : DENY_ACTION, value: card.approvalId, user, channel, messageTs: card.ts }));
}
