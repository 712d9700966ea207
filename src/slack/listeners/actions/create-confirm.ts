import type { AllMiddlewareArgs, SlackActionMiddlewareArgs } from '@slack/bolt';
import { checkClusterKnown } from '../../../commands/parse.js';
import { ClusterCreateCommand } from '../../../commands/schema.js';
import { authorizeCommand, authorizeRequest, commandLabel } from '../../authorize.js';
import type { BotDeps, SlackRequest } from '../../deps.js';
import { startClusterCreate } from '../../handlers/cluster-create.js';
import { buildProblem, buildRefusal, problemAfterAck } from '../../messages/refusal.js';
import { buildUsageError } from '../../messages/usage.js';
import { parseBlockAction } from '../../payloads.js';
import { logRefusal } from '../log-refusal.js';
import { plainText } from '../../messages/mrkdwn.js';
import { messageOf, stackOf, toWarrenError } from '../../../errors.js';

/**
 * "Create <cluster> now" on a dry run: acks at once, then checks everything a typed create is
 * checked for (the button's value is user-controlled data like any other) and starts the create.
 */
export function createConfirmAction(deps: BotDeps) {
  return async ({ ack, body, respond }: SlackActionMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const reply: SlackRequest['reply'] = async (message) => {
      await respond({ response_type: 'ephemeral', ...message });
    };
    const payload = parseBlockAction(body, deps.logger);
    if (!payload) return;
    const {
      user: { id: user },
      channel: { id: channel },
    } = payload;
    const access = authorizeRequest(deps.config.slack, { user, channel });
    if (!access.ok) {
      await reply(buildRefusal(access.refusal));
      logRefusal(deps.logger, { user, channel, command: 'button: cluster create', reason: access.refusal.reason });
      return;
    }
    const command = ClusterCreateCommand.safeParse({
      name: 'cluster.create',
      cluster: payload.actions[0].value,
      dryRun: false,
    });
    const unknown = command.success ? checkClusterKnown(command.data, deps.config) : undefined;
    if (!command.success || unknown) {
      await reply(
        unknown
          ? buildUsageError(unknown)
          : buildProblem(
              'That button does not name a cluster.',
              'Run `/rabbit cluster create <cluster> --dry-run` again.',
            ),
      );
      return;
    }
    const refusal = authorizeCommand(access.roles, command.data, user);
    if (refusal) {
      await reply(buildRefusal(refusal));
      logRefusal(deps.logger, { user, channel, command: commandLabel(command.data), reason: refusal.reason });
      return;
    }
    const cluster = command.data.cluster;
    const teamDomain = payload.team?.domain;
    deps.afterAck.run('slack', async () => {
      const log = deps.logger.child({ user, channel, command: commandLabel(command.data), via: 'button' });
      const request: SlackRequest = { user, channel, ...(teamDomain ? { teamDomain } : {}), reply };
      try {
        await reply({
          replace_original: true,
          text: plainText(`Creating ${cluster}: follow the job card in the channel.`),
        });
        await startClusterCreate(deps, request, cluster, log);
      } catch (error) {
        log.error({ err: messageOf(error), ...stackOf(toWarrenError(error)) }, 'create from button failed');
        await reply(problemAfterAck(error)).catch(() => undefined);
      }
    });
  };
}
