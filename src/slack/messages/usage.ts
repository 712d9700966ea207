import { helpLines } from '../../commands/help.js';
import type { UsageError } from '../../commands/schema.js';
import type { SlackMessage } from './mrkdwn.js';
import { context, escapeText, inlineCode, plainText, section } from './mrkdwn.js';

let help: SlackMessage | undefined;

/**
 * `/rabbit help`. The same for every request (it comes from the table of operations), so it is built
 * once: building it per request cost more CPU than the rest of the listener before its ack.
 */
export function buildHelp(): SlackMessage {
  help ??= renderHelp();
  return help;
}

function renderHelp(): SlackMessage {
  const lines = helpLines('/rabbit').map((line) => {
    const [usage, what] = line.split(' — ');
    return `• ${inlineCode(usage)} — ${escapeText(what ?? '')}`;
  });
  return {
    text: plainText(helpLines('/rabbit').join('\n')),
    blocks: [
      section('*warren* builds and checks RabbitMQ clusters from the inventory in its config.'),
      section(lines.join('\n')),
      context('Progress goes to the job card and its thread; failures come with the evidence and what to do next.'),
    ],
  };
}

/** A command we could not interpret: what was wrong, and the usage that would have worked. */
export function buildUsageError(error: UsageError): SlackMessage {
  const usage = error.usage.map((line) => {
    const [grammar, what] = line.split(' — ');
    return `• ${inlineCode(`/rabbit ${grammar}`)}${what ? ` — ${escapeText(what)}` : ''}`;
  });
  return {
    text: plainText(`Sorry: ${error.message}`),
    blocks: [section(`:warning: ${escapeText(error.message)}`), section(`*Usage*\n${usage.join('\n')}`)],
  };
}
