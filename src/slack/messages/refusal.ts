import type { SlackRole } from '../../config/schema.js';
import type { SlackMessage } from './mrkdwn.js';
import { escapeText, inlineCode, plainFromMrkdwn, plainText, section } from './mrkdwn.js';
import { messageOf } from '../../errors.js';

/** Why a request was refused; each says what an admin would change in the config. */
export type Refusal =
  | { reason: 'channel'; channel: string }
  | { reason: 'user'; user: string }
  | { reason: 'role'; user: string; needs: SlackRole; has: SlackRole[]; command: string };

/** The ephemeral answer to a refused request. */
export function buildRefusal(refusal: Refusal): SlackMessage {
  switch (refusal.reason) {
    case 'channel':
      return notice(
        "Sorry, I don't take commands in this channel.",
        `Ask a warren admin to add ${inlineCode(refusal.channel)} to ` +
          `\`slack.channels\` in warren's config, or use a channel that is ` +
          `listed there.`,
      );
    case 'user':
      return notice(
        "Sorry, you're not allowed to use `/rabbit`.",
        `Ask a warren admin to give your user id ${inlineCode(refusal.user)} a ` +
          `role (viewer, operator or approver) under \`slack.users\` in warren's ` +
          `config.`,
      );
    case 'role':
      return notice(
        `Sorry, ${inlineCode(refusal.command)} needs the *${refusal.needs}* ` +
          `role; you have ` +
          `${refusal.has.length > 0 ? refusal.has.map((r) => `*${r}*`).join(', ') : 'none'}.`,
        `Ask a warren admin to add \`${refusal.needs}\` to ${inlineCode(refusal.user)} under \`slack.users\`.`,
      );
  }
}

function notice(headline: string, next: string): SlackMessage {
  return { text: plainFromMrkdwn(headline), blocks: [section(`:no_entry: ${headline}\n${next}`)] };
}

/** A short ephemeral about something that went wrong on our side, with what to do next. */
export function buildProblem(message: string, next: string): SlackMessage {
  return { text: plainText(message), blocks: [section(`:warning: ${escapeText(message)}\n${escapeText(next)}`)] };
}

/** What the requester reads when the work after an ack failed; Slack's own refusals come with their fix. */
export function problemAfterAck(error: unknown): SlackMessage {
  const slackError = (error as { data?: { error?: unknown } } | undefined)?.data?.error;
  if (slackError === 'not_in_channel' || slackError === 'channel_not_found') {
    return buildProblem(
      "I can't post in this channel, so nothing was started.",
      'Invite me with /invite @warren, then try again.',
    );
  }
  return buildProblem(
    `Something went wrong: ${messageOf(error)}`,
    'Nothing was queued unless a job card appeared. Try again; if it persists, check the bot log.',
  );
}
