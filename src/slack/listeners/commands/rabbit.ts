import type { AllMiddlewareArgs, RespondArguments, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { checkClusterKnown, checkHostKnown, parseCommand } from '../../../commands/parse.js';
import { isDestructiveCommand } from '../../../commands/schema.js';
import type { RabbitCommand, UsageError } from '../../../commands/schema.js';
import { authorizeCommand, authorizeRequest, commandLabel, hasRole } from '../../authorize.js';
import type { BotDeps, SlackRequest } from '../../deps.js';
import { startClusterCreate } from '../../handlers/cluster-create.js';
import { replyWithPlan } from '../../handlers/dry-run.js';
import { replyWithAudit } from '../../handlers/audit.js';
import { requestDestructiveOperation } from '../../handlers/destructive-request.js';
import { replyWithJobs } from '../../handlers/jobs.js';
import { postClusterStatus, postStatusSummary } from '../../handlers/status.js';
import { postUpgradeCheck } from '../../handlers/upgrade-check.js';
import { replyWithWatches, startWatch, stopWatch } from '../../handlers/watch.js';
import type { SlackMessage } from '../../messages/mrkdwn.js';
import { plainText } from '../../messages/mrkdwn.js';
import type { CommandOutcome } from '../../../observability/metrics.js';
import { buildProblem, buildRefusal, problemAfterAck } from '../../messages/refusal.js';
import { buildHelp, buildUsageError } from '../../messages/usage.js';
import { SlashCommandPayload } from '../../payloads.js';
import { logRefusal } from '../log-refusal.js';
import { messageOf, stackOf, toWarrenError } from '../../../errors.js';

/**
 * `/rabbit …`: checks channel, user, grammar and role in memory and acks at once (refusals and
 * usage errors ride on the ack, privately); anything slow — Redis, SSH, posting — is handed to
 * AfterAck, so it neither delays this ack nor, in a burst, the next ones.
 */
export function rabbitCommand(deps: BotDeps) {
  return async ({ command, ack, respond }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    const count = (name: string, outcome: CommandOutcome): void =>
      deps.metrics.slackCommands.inc({ command: name, outcome });
    const payload = SlashCommandPayload.safeParse(command);
    if (!payload.success) {
      await ack(
        ephemeral(
          buildProblem('This request did not look like a slash command from Slack.', 'Try again from a channel.'),
        ),
      );
      count('unknown', 'refused');
      deps.logger.warn({ issues: payload.error.issues.map((i) => i.path.join('.')) }, 'slash command payload rejected');
      return;
    }
    const { user_id: user, channel_id: channel, text } = payload.data;
    const access = authorizeRequest(deps.config.slack, { user, channel });
    if (!access.ok) {
      await ack(ephemeral(buildRefusal(access.refusal)));
      count(subcommandOf(text), 'refused');
      logRefusal(deps.logger, { user, channel, command: text, reason: access.refusal.reason });
      return;
    }
    const parsed = parseCommand(text);
    const refuseUsage = async (usage: UsageError): Promise<void> => {
      await ack(ephemeral(buildUsageError(usage)));
      count(parsed.ok ? parsed.command.name : 'unknown', 'usage_error');
      deps.logger.info({ user, channel, code: usage.code }, 'slack command: usage error');
    };
    if (!parsed.ok) return refuseUsage(parsed.error);
    const unknown = checkClusterKnown(parsed.command, deps.config) ?? checkHostKnown(parsed.command, deps.config);
    if (unknown) return refuseUsage(unknown);
    const refusal = authorizeCommand(access.roles, parsed.command, user);
    if (refusal) {
      await ack(ephemeral(buildRefusal(refusal)));
      count(parsed.command.name, 'refused');
      logRefusal(deps.logger, { user, channel, command: commandLabel(parsed.command), reason: refusal.reason });
      return;
    }
    await ack(ackFor(parsed.command));
    count(parsed.command.name, 'accepted');
    const rabbit = parsed.command;
    const isOperator = hasRole(access.roles, 'operator');
    const teamDomain = payload.data.team_domain;
    // Status, upgrade-check and the safety gates read the nodes over SSH: their own lane keeps cards from
    // waiting on them.
    const readsNodes = rabbit.name === 'status' || rabbit.name === 'upgrade-check' || isDestructiveCommand(rabbit);
    deps.afterAck.run(readsNodes ? 'ssh' : 'slack', async () => {
      const fields = { user, channel, command: commandLabel(rabbit) };
      // help has nothing to do after its ack: its one line needs no child logger (the same line either way).
      if (rabbit.name === 'help') return void deps.logger.info(fields, 'slack command accepted');
      const log = deps.logger.child(fields);
      log.info('slack command accepted');
      const request: SlackRequest = {
        user,
        channel,
        ...(teamDomain ? { teamDomain } : {}),
        reply: async (message) => {
          await respond({ response_type: 'ephemeral', ...message });
        },
      };
      try {
        await followUp(deps, request, rabbit, isOperator, log);
      } catch (error) {
        log.error({ err: messageOf(error), ...stackOf(toWarrenError(error)) }, 'slack command failed after ack');
        await request.reply(problemAfterAck(error)).catch(() => undefined);
      }
    });
  };
}

async function followUp(
  deps: BotDeps,
  request: SlackRequest,
  command: RabbitCommand,
  isOperator: boolean,
  log: BotDeps['logger'],
): Promise<void> {
  switch (command.name) {
    case 'help':
      return;
    case 'jobs':
      return replyWithJobs(deps, request);
    case 'status':
      return command.cluster
        ? postClusterStatus(deps, request, command.cluster, log)
        : postStatusSummary(deps, request, log);
    case 'cluster.create':
      return command.dryRun
        ? replyWithPlan(deps, request, command.cluster, { offerCreate: isOperator }, log)
        : startClusterCreate(deps, request, command.cluster, log);
    case 'audit':
      return replyWithAudit(deps, request, command.cluster);
    case 'upgrade-check':
      return postUpgradeCheck(deps, request, command, log);
    case 'node.reset':
    case 'node.remove':
    case 'node.add':
    case 'cluster.teardown':
    case 'cluster.migrate-to-quorum':
    case 'cluster.delete-classic-queues':
    case 'feature-flags.enable':
    case 'cluster.restart':
      return requestDestructiveOperation(deps, request, command, log);
    case 'watch':
      return startWatch(deps, request, command, log);
    case 'unwatch':
      return stopWatch(deps, request, command.cluster, log);
    case 'watches':
      return replyWithWatches(deps, request);
  }
}

/**
 * What the ack itself carries: help in full; a short note for work that takes a while; nothing for a create (the card
 * says it).
 */
function ackFor(command: RabbitCommand): RespondArguments | undefined {
  switch (command.name) {
    case 'help':
      return ephemeral(buildHelp());
    case 'status':
      return {
        response_type: 'ephemeral',
        text: plainText(
          command.cluster
            ? `Reading the status of ${command.cluster} from its nodes…`
            : 'Reading the status of every cluster…',
        ),
      };
    case 'upgrade-check':
      return {
        response_type: 'ephemeral',
        text: plainText(
          `Reading every node of ${command.cluster} for an upgrade check${command.to ? ` to ${command.to}` : ''}…`,
        ),
      };
    case 'node.reset':
    case 'node.remove':
    case 'node.add':
    case 'cluster.teardown':
    case 'cluster.migrate-to-quorum':
    case 'cluster.delete-classic-queues':
    case 'feature-flags.enable':
    case 'cluster.restart':
      return {
        response_type: 'ephemeral',
        text: plainText(
          command.dryRun
            ? `Checking the safety gates of ${commandLabel(command)}…`
            : `Checking the safety gates of ${commandLabel(command)}; if they pass, ` +
                (command.name === 'cluster.restart'
                  ? 'an approval card (or, where the cluster allows operators, the job card) follows in the channel…'
                  : 'an approval card for an approver follows in the channel…'),
        ),
      };
    default:
      return undefined;
  }
}

/** The subcommand's name for a metric label (a fixed set, never the user's text), `unknown` if it does not parse. */
function subcommandOf(text: string): string {
  const parsed = parseCommand(text);
  return parsed.ok ? parsed.command.name : 'unknown';
}

function ephemeral(message: SlackMessage): RespondArguments {
  return { response_type: 'ephemeral', text: message.text, blocks: message.blocks };
}
