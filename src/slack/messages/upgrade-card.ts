import type { NodeReading } from '../../rabbit/upgrade-path.js';
import type { UpgradeReport } from '../../status/read-upgrade-readiness.js';
import type { Block, SlackMessage } from './mrkdwn.js';
import { context, escapeText, header, inlineCode, plainText, section, sectionsOf } from './mrkdwn.js';

const PATH_WORDS = { rolling: 'rolling upgrade', 'blue-green': 'blue/green', none: 'no upgrade path' } as const;

/**
 * The upgrade-readiness report card: the verdict and path first, one row per node (versions,
 * flags not enabled, deprecated features in use, alarms), then each blocker with what to do.
 * Everything a host said (names, versions, policy and queue names) is escaped.
 */
export function buildUpgradeCard(report: UpgradeReport): SlackMessage {
  const { verdict } = report;
  const toward = verdict.to ? ` for ${verdict.to}` : '';
  const headline = verdict.ready
    ? `:white_check_mark: *${escapeText(report.cluster)}* is ready${escapeText(toward)}`
    : `:no_entry: *${escapeText(report.cluster)}* is not ready` +
      `${escapeText(toward)}: ${verdict.blockers.length} blocker` +
      `${verdict.blockers.length === 1 ? '' : 's'}`;
  const blocks: Block[] = [
    header(`${report.cluster}: upgrade check${verdict.to ? ` to ${verdict.to}` : ''}`),
    section(`${headline}\n*${PATH_WORDS[verdict.path]}* — ${escapeText(verdict.summary)}`),
    ...sectionsOf(report.nodes.map(nodeRow), 20),
  ];
  if (verdict.blockers.length > 0)
    blocks.push(
      ...sectionsOf(
        [
          '*Blockers*',
          ...verdict.blockers.map((b) => `• ${escapeText(b.what)}\n    _what to do:_ ${escapeText(b.fix)}`),
        ],
        6,
      ),
    );
  if (verdict.warnings.length > 0)
    blocks.push(...sectionsOf(['*Warnings*', ...verdict.warnings.map((w) => `• ${escapeText(w)}`)], 2));
  const policies =
    report.mirroringPolicies.length > 0
      ? report.mirroringPolicies.map((p) => inlineCode(`${p.vhost} ${p.name}`)).join(', ')
      : 'none';
  blocks.push(
    context(
      `read-only · mirroring policies: ${policies} · under-replicated quorum queues: ${report.underReplicated.length}`,
    ),
  );
  const blockers = verdict.blockers.length > 0 ? `: ${verdict.blockers.map((b) => b.what).join('; ')}` : '';
  return {
    text: plainText(
      `${report.cluster} is ${verdict.ready ? 'ready' : 'not ready'}${toward} (${PATH_WORDS[verdict.path]})${blockers}`,
    ),
    blocks,
  };
}

/** One node: versions, flags not enabled, deprecated features in use, alarms; or why it was not read. */
export function nodeRow(node: NodeReading): string {
  const name =
    `*${escapeText(node.node)}*` +
    `${node.host && `rabbit@${node.host}` !== node.node ? ` (${escapeText(node.host)})` : ''}`;
  if (node.unreadable !== undefined) return `:black_circle: ${name} · *not read*: ${escapeText(node.unreadable)}`;
  const parts = [
    `${node.alarms.length > 0 || node.flagsNotEnabled.length > 0 ? ':large_yellow_circle:' : ':large_green_circle:'}` +
      ` ${name}`,
  ];
  if (node.rabbitmqVersion) parts.push(`RabbitMQ ${escapeText(node.rabbitmqVersion)}`);
  if (node.erlangVersion) parts.push(`Erlang ${escapeText(node.erlangVersion)}`);
  parts.push(
    node.flagsNotEnabled.length > 0
      ? `feature flags not enabled: ${node.flagsNotEnabled.map(inlineCode).join(', ')}`
      : 'all stable feature flags enabled',
  );
  if (node.deprecatedInUse === 'unsupported') parts.push('deprecated features: not reported before 3.13');
  else
    parts.push(
      node.deprecatedInUse.length > 0
        ? `deprecated features in use: ${node.deprecatedInUse.map(inlineCode).join(', ')}`
        : 'no deprecated features in use',
    );
  parts.push(node.alarms.length > 0 ? `:rotating_light: alarms: ${escapeText(node.alarms.join(', '))}` : 'no alarms');
  return parts.join(' · ');
}
