import type { SlackMessage } from './mrkdwn.js';
import { context, escapeText, link, mention, plainText, section, sectionsOf } from './mrkdwn.js';

/** One operation in `/rabbit jobs`. */
export interface JobListEntry {
  jobId: string;
  operation: string;
  cluster: string;
  /** BullMQ's state: active, waiting, delayed, completed, failed, … */
  state: string;
  /** A Slack user id, or the CLI user's name. */
  requestedBy: string;
  requestedAt?: string;
  cardLink?: string;
  failedReason?: string;
}

const STATE_ICON: Record<string, string> = {
  active: ':arrows_counterclockwise:',
  waiting: ':hourglass:',
  'waiting-children': ':hourglass:',
  prioritized: ':hourglass:',
  delayed: ':repeat:',
  completed: ':white_check_mark:',
  failed: ':x:',
};

/** `/rabbit jobs`: running operations first, then the most recent ones. */
export function buildJobsList(entries: JobListEntry[], now: Date = new Date()): SlackMessage {
  if (entries.length === 0)
    return {
      text: plainText('No operations yet.'),
      blocks: [section('No operations yet. `/rabbit cluster create &lt;cluster&gt;` starts one.')],
    };
  const lines = entries.map((e) => {
    const when = e.requestedAt ? ` · ${ago(new Date(e.requestedAt), now)}` : '';
    const card = e.cardLink ? ` · ${link(e.cardLink, 'card')}` : '';
    const reason =
      e.state === 'failed' && e.failedReason ? `\n    ${escapeText(e.failedReason.split('\n')[0].slice(0, 200))}` : '';
    return (
      `${STATE_ICON[e.state] ?? ':grey_question:'} *` +
      `${escapeText(e.operation)} ${escapeText(e.cluster)}* — ` +
      `${escapeText(e.state)} · by ${mention(e.requestedBy)}${when}${card}` +
      `${reason}`
    );
  });
  return {
    text: plainText(entries.map((e) => `${e.operation} ${e.cluster}: ${e.state}`).join('\n')),
    blocks: [section('*Operations*'), ...sectionsOf(lines, 45), context(`${entries.length} shown, running first`)],
  };
}

function ago(then: Date, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (Number.isNaN(seconds)) return 'at an unknown time';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}
