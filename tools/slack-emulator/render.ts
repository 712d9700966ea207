import type { EmulatedMessage, SlackEmulator } from './emulator.js';

/** The emoji warren's messages use, as a terminal shows them. */
const EMOJI: Record<string, string> = {
  white_check_mark: '✅',
  arrows_counterclockwise: '🔄',
  white_circle: '⚪',
  fast_forward: '⏩',
  x: '❌',
  large_green_circle: '🟢',
  large_yellow_circle: '🟡',
  red_circle: '🔴',
  black_circle: '⚫',
  warning: '⚠️',
  rotating_light: '🚨',
  hourglass: '⌛',
  repeat: '🔁',
  link: '🔗',
  no_entry: '⛔',
  no_entry_sign: '🚫',
  grey_question: '❔',
};

/** Slack mrkdwn as a person would read it in a terminal: emoji, links, mentions, entities. */
export function renderMrkdwn(text: string): string {
  return text
    .replace(/:([a-z_]+):/g, (whole, name: string) => EMOJI[name] ?? whole)
    .replace(/<@([UW][A-Z0-9]+)>/g, '@$1')
    .replace(/<(https?:[^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/<(https?:[^>]+)>/g, '$1')
    .replace(
      /```([\s\S]*?)```/g,
      (_m, code: string) =>
        `\n${code
          .split('\n')
          .map((l) => `    ${l}`)
          .join('\n')}\n`,
    )
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, '$1$2')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

interface AnyBlock {
  type: string;
  text?: { text: string };
  elements?: { text?: string | { text: string } }[];
}

/** One message's blocks (or its text when it has none) as terminal lines. */
export function renderMessage(message: Pick<EmulatedMessage, 'text' | 'blocks'>): string {
  const blocks = (message.blocks ?? []) as AnyBlock[];
  if (blocks.length === 0) return renderMrkdwn(message.text);
  return blocks
    .map((block) => {
      switch (block.type) {
        case 'header':
          return `== ${block.text?.text ?? ''} ==`;
        case 'section':
          return renderMrkdwn(block.text?.text ?? '')
            .replace(/\n{3,}/g, '\n\n')
            .trim();
        case 'context':
          return (block.elements ?? [])
            .map((e) => renderMrkdwn(typeof e.text === 'string' ? e.text : (e.text?.text ?? '')))
            .join(' ');
        case 'actions':
          return (block.elements ?? [])
            .map((e) => `[ ${typeof e.text === 'string' ? e.text : (e.text?.text ?? '')} ]`)
            .join(' ');
        default:
          return '';
      }
    })
    .filter((line) => line.length > 0)
    .join('\n');
}

/** A card as it stands now, and its thread, indented under it: what the channel shows. */
export function renderThread(emulator: SlackEmulator, channel: string, ts: string): string {
  const card = emulator.message(channel, ts);
  if (!card) return `(no message ${ts} in ${channel})`;
  const replies = emulator.threadReplies(channel, ts);
  const indent = (text: string) =>
    text
      .split('\n')
      .map((line) => `   │ ${line}`)
      .join('\n');
  return [renderMessage(card), ...replies.map((reply) => `   ↳\n${indent(renderMessage(reply))}`)].join('\n');
}
