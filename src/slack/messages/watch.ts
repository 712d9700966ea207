import type { WatchRecord } from '../../operations/watch.js';
import type { WatchFault, WatchState } from '../../status/watch-judge.js';
import type { SlackMessage } from './mrkdwn.js';
import { codeBlock, context, escapeText, inlineCode, mention, plainText, section, sectionsOf } from './mrkdwn.js';

const ICON: Record<WatchFault['kind'], string> = {
  dark: ':black_circle:',
  node: ':red_circle:',
  partition: ':scissors:',
  alarm: ':rotating_light:',
  quorum: ':warning:',
  maintenance: ':construction:',
};

/** A watch alert in the watch's channel: what changed, the evidence (host text, escaped), what to run next. */
export function buildWatchAlert(cluster: string, fault: WatchFault): SlackMessage {
  return {
    text: plainText(`${cluster}: ${fault.summary}`),
    blocks: [
      section(`${ICON[fault.kind]} *${escapeText(cluster)}* — ${escapeText(fault.summary)}`),
      ...(fault.evidence.length > 0 ? [section(codeBlock(fault.evidence.join('\n'), 1500))] : []),
      context(
        `Next: ${inlineCode(fault.suggestion)} · seen since ${escapeText(fault.since)} · recovery in this thread`,
      ),
    ],
  };
}

/** The recovery, posted as a reply in the alert's thread. */
export function buildWatchRecovery(cluster: string, fault: WatchFault, at: string): SlackMessage {
  const lasted = Math.max(0, Math.round((Date.parse(at) - Date.parse(fault.since)) / 1000));
  return {
    text: plainText(`${cluster}: recovered: ${fault.summary}`),
    blocks: [
      section(
        `:large_green_circle: *${escapeText(cluster)}* — recovered: ${escapeText(fault.summary)}` +
          (Number.isFinite(lasted) ? ` (after ${lasted} s)` : ''),
      ),
      context(`Seen clear at ${escapeText(at)}`),
    ],
  };
}

/** `/rabbit watches`: each watched cluster, its channel, its last reading and its open faults. */
export function buildWatchesList(
  watches: readonly { record: WatchRecord; state?: WatchState }[],
  skipped: readonly string[] = [],
): SlackMessage {
  if (watches.length === 0)
    return {
      text: plainText('No cluster is watched.'),
      blocks: [section('No cluster is watched. `/rabbit watch &lt;cluster&gt;` starts a watch in this channel.')],
    };
  const lines = watches.map(({ record, state }) => {
    const faults = Object.values(state?.faults ?? {});
    const head =
      `*${escapeText(record.cluster)}* → <#${record.channel}> every ${record.periodSeconds} s · by ` +
      `${mention(record.requestedBy)}`;
    const reading = state
      ? ` · last read ${escapeText(state.judgedAt)} (${escapeText(state.reading)}): ` +
        `${state.gauges.nodesRunning}/${state.gauges.nodesExpected} running`
      : ' · not read yet';
    const open =
      faults.length === 0 ? ' · no open fault' : faults.map((f) => `\n    • ${escapeText(f.summary)}`).join('');
    return head + reading + open;
  });
  return {
    text: plainText(
      watches.map((w) => `${w.record.cluster}: ${Object.keys(w.state?.faults ?? {}).length} open`).join('\n'),
    ),
    blocks: [
      section('*Watches*'),
      ...sectionsOf(lines, 45),
      ...(skipped.length > 0 ? [context(`${skipped.length} unreadable watch record(s) left out`)] : []),
    ],
  };
}
