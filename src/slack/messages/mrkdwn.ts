import type { types } from '@slack/bolt';
import { withoutControls } from '../../untrusted-text.js';

export type Block = types.KnownBlock;

declare const ESCAPED: unique symbol;
/** A message's `text`, escaped by plainText: a plain string cannot be put there by mistake. */
export type SlackText = string & { readonly [ESCAPED]: true };

/** What every builder returns: blocks for people, `text` for notifications and screen readers. */
export interface SlackMessage {
  text: SlackText;
  blocks: Block[];
}

/** Slack's limit on a section's text; longer text is refused with invalid_blocks. */
export const SECTION_TEXT_LIMIT = 3000;

/**
 * The one escape for text we did not write (host output, names, reasons): the three characters
 * Slack's mrkdwn treats as control characters (so `<!channel>` or `<https://x|y>` from a host is
 * shown, not acted on), and the control characters and escape sequences nobody should receive.
 */
export function escapeText(text: string): string {
  return withoutControls(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A message's `text` (notifications, screen readers): all of it escaped, at most `max` characters before escaping. */
export function plainText(text: string, max = SECTION_TEXT_LIMIT): SlackText {
  return escapeText(text.length > max ? `${text.slice(0, max - 1)}…` : text) as SlackText;
}

/**
 * The `text` of a message whose blocks say it in mrkdwn we built: formatting and date tokens
 * dropped, entities read back, then escaped once more, keeping only our own mentions.
 */
export function plainFromMrkdwn(mrkdwn: string): SlackText {
  // In mrkdwn we built, a raw `<` only opens our own markup: a host's `<` is already `&lt;` here.
  return mrkdwn
    .split(/(<@[UW][A-Z0-9]+>)/)
    .map((part, i) => {
      if (i % 2 === 1) return part;
      const plain = part
        .replace(/[*`]/g, '')
        .replace(/<!date\^\d+\^[^|<>]*\|([^<>]*)>/g, '$1')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');
      return escapeText(plain);
    })
    .join('') as SlackText;
}

/** Escaped `text` followed by more of it, escaped too. */
export function appendText(text: SlackText, more: string): SlackText {
  return (text + escapeText(more)) as SlackText;
}

/**
 * Where `text` may be cut at or before `at` without splitting an entity (`&amp;`), one of our own
 * `<…>` links or mentions, or a surrogate pair.
 */
function safeCut(text: string, at: number): number {
  let cut = at;
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp >= 0 && amp >= cut - 5 && !text.slice(amp, cut).includes(';')) cut = amp;
  const open = text.lastIndexOf('<', cut - 1);
  if (open >= 0 && text.lastIndexOf('>', cut - 1) < open) cut = open;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return Math.max(0, cut);
}

/** Cuts text to `max` characters, saying so, so a long stderr cannot break a message. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… (${text.length - max} more characters)`;
  return text.slice(0, safeCut(text, Math.max(0, max - note.length))) + note;
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

/**
 * A header is plain text: Slack shows it as is, so only control characters are removed (and the three mrkdwn
 * characters, which our names never hold).
 */
export function header(text: string): Block {
  return {
    type: 'header',
    text: { type: 'plain_text', text: truncate(withoutControls(text).replace(/[<>&]/g, '?'), 150), emoji: true },
  };
}

/** "850 ms", "12.3 s", "2 min 05 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${String(seconds).padStart(2, '0')} s`;
}

/**
 * A link Slack renders, only to an https address we made (a message's permalink); anything else is shown as escaped
 * text.
 */
export function link(url: string, label: string): string {
  return /^https:\/\/[A-Za-z0-9.-]+(?:\/[A-Za-z0-9._~%/-]*)?$/.test(url)
    ? `<${url}|${escapeText(label)}>`
    : `${escapeText(label)} (${escapeText(url)})`;
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
