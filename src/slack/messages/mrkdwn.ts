import type { types } from '@slack/bolt';

export type Block = types.KnownBlock;

/** What every builder returns: blocks for people, `text` for notifications and screen readers. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

/** Slack's limit on a section's text; longer text is refused with invalid_blocks. */
export const SECTION_TEXT_LIMIT = 3000;
/** Slack's limit on blocks in one message. */
export const MESSAGE_BLOCK_LIMIT = 50;

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts text to `max` characters, saying so, so a long stderr cannot break a message. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… (${text.length - max} more characters)`;
  return text.slice(0, Math.max(0, max - note.length)) + note;
}

/** A preformatted block of untrusted text: escaped, fences neutralised, within a section's limit. */
export function codeBlock(text: string, max = SECTION_TEXT_LIMIT - 8): string {
  const body = truncate(escapeText(text).replace(/```/g, "'''"), max);
  return '```' + (body.length === 0 ? ' ' : body) + '```';
}

/** Inline code for short untrusted values such as a command or a node name. */
export function inlineCode(text: string): string {
  return '`' + escapeText(text).replace(/`/g, "'") + '`';
}

export function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, SECTION_TEXT_LIMIT) } };
}

export function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(text, SECTION_TEXT_LIMIT) }] };
}

export function header(text: string): Block {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, 150), emoji: true } };
}

/** "850 ms", "12.3 s", "2 min 05 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

/** A mention Slack renders as the user's name. */
export function mention(user: string): string {
  return /^[UW][A-Z0-9]+$/.test(user) ? `<@${user}>` : escapeText(user);
}

/** A link to a message; Slack resolves /archives/<channel>/p<ts without dot> to the message. */
export function permalinkFor(teamDomain: string | undefined, channel: string, ts: string): string {
  const host = teamDomain && /^[a-z0-9-]+$/i.test(teamDomain) ? `${teamDomain}.slack.com` : 'slack.com';
  return `https://${host}/archives/${channel}/p${ts.replace('.', '')}`;
}

/** Splits lines into sections that each fit Slack's limit, at most `maxBlocks` of them. */
export function sectionsOf(lines: string[], maxBlocks: number): Block[] {
  const blocks: Block[] = [];
  let current = '';
  for (const line of lines) {
    const candidate = current.length === 0 ? line : `${current}\n${line}`;
    if (candidate.length <= SECTION_TEXT_LIMIT) {
      current = candidate;
      continue;
    }
    if (current.length > 0) blocks.push(section(current));
    current = truncate(line, SECTION_TEXT_LIMIT);
  }
  if (current.length > 0) blocks.push(section(current));
  if (blocks.length <= maxBlocks) return blocks;
  return [...blocks.slice(0, maxBlocks - 1), context(`… ${blocks.length - maxBlocks + 1} more sections not shown`)];
}
