import type { AuditEvent, StoredAuditEntry } from '../../audit/schema.js';
import type { SlackMessage } from './mrkdwn.js';
import { context, escapeText, inlineCode, mention, plainText, section, sectionsOf } from './mrkdwn.js';
import { slackTime } from './approval-card.js';

const EVENT_ICON: Record<AuditEvent, string> = {
  requested: ':raised_hand:',
  approved: ':ballot_box_with_check:',
  denied: ':no_entry_sign:',
  expired: ':hourglass:',
  refused: ':no_entry:',
  started: ':arrows_counterclockwise:',
  completed: ':white_check_mark:',
  failed: ':x:',
};

/** `/rabbit audit [<cluster>]`: who did what, when, and how it ended; newest last, as the log reads. */
export function buildAuditList(entries: StoredAuditEntry[], cluster?: string): SlackMessage {
  const scope = cluster ? ` for ${cluster}` : '';
  if (entries.length === 0)
    return {
      text: plainText(`No audit entries${scope} yet.`),
      blocks: [section(`No audit entries${escapeText(scope)} yet.`)],
    };
  const lines = entries.map(({ entry }) => {
    const target = [entry.operation, entry.cluster, entry.node]
      .filter(Boolean)
      .map((part) => escapeText(part ?? ''))
      .join(' ');
    const by = entry.actor.startsWith('cli:')
      ? `${inlineCode(entry.actor)} (CLI)`
      : entry.via === 'worker'
        ? `${mention(entry.actor)} (worker)`
        : mention(entry.actor);
    const job = entry.jobId ? ` · job ${inlineCode(entry.jobId)}` : '';
    const detail = entry.detail ? ` — ${escapeText(entry.detail.slice(0, 300))}` : '';
    return (
      `${EVENT_ICON[entry.event]} ${slackTime(Date.parse(entry.at))} *` +
      `${escapeText(entry.event)}* ${target} · by ${by}${job}${detail}`
    );
  });
  return {
    text: plainText(
      entries
        .map(
          ({ entry }) =>
            `${entry.at} ${entry.event} ${entry.operation} ${entry.cluster}` +
            `${entry.node ? ` ${entry.node}` : ''} by ${entry.actor}`,
        )
        .join('\n'),
    ),
    blocks: [
      section(`*Audit log${escapeText(scope)}*`),
      ...sectionsOf(lines, 45),
      context(`the latest ${entries.length}, newest last`),
    ],
  };
}
