import type { AllMiddlewareArgs, SlackActionMiddlewareArgs } from '@slack/bolt';
import { ApprovalId } from '../../../approvals/schema.js';
import type { ApprovalDecision } from '../../../approvals/schema.js';
import type { BotDeps, SlackRequest } from '../../deps.js';
import { decideApproval } from '../../handlers/approval-decision.js';
import { buildClickRefusal } from '../../messages/approval-card.js';
import { problemAfterAck } from '../../messages/refusal.js';
import { parseBlockAction } from '../../payloads.js';
import { messageOf, stackOf, toWarrenError } from '../../../errors.js';

/**
 * The body both approval buttons share: ack at once, read who clicked which approval, and leave
 * everything that touches Redis or Slack to AfterAck. Each button's own file names its decision.
 */
export function approvalClick(deps: BotDeps, decision: ApprovalDecision) {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    await ack();
    // Privately to the clicker; the card itself is only ever edited through chat.update.
    const reply: SlackRequest['reply'] = async (message) => {
      await respond({ response_type: 'ephemeral', replace_original: false, ...message });
    };
    const payload = parseBlockAction(body, deps.logger);
    if (!payload) return;
    const {
      user: { id: user },
      channel: { id: channel },
    } = payload;
    const teamDomain = payload.team?.domain;
    const approvalId = ApprovalId.safeParse(payload.actions[0].value);
    deps.afterAck.run('slack', async () => {
      const log = deps.logger.child({ user, channel, decision, via: 'button' });
      try {
        if (!approvalId.success) {
          await reply(buildClickRefusal({ reason: 'unknown' }));
          return;
        }
        await decideApproval(
          deps,
          { user, channel, ...(teamDomain ? { teamDomain } : {}), reply, approvalId: approvalId.data },
          decision,
          log,
        );
      } catch (error) {
        log.error({ err: messageOf(error), ...stackOf(toWarrenError(error)) }, 'approval decision failed after ack');
        await reply(problemAfterAck(error)).catch(() => undefined);
      }
    });
  };
}
