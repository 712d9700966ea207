import type { ClusterHealth, HealthHeadline, NodeHealth } from '../../rabbit/cluster-status.js';
import type { Block, SlackMessage } from './mrkdwn.js';
import { context, escapeText, header, inlineCode, plainText, section, sectionsOf } from './mrkdwn.js';

export const HEADLINE_ICON: Record<HealthHeadline, string> = {
  healthy: ':large_green_circle:',
  degraded: ':large_yellow_circle:',
  partitioned: ':red_circle:',
  unreachable: ':black_circle:',
};

/** The status card: the cluster, a clear headline, one row per node and the problems found. */
export function buildStatusCard(health: ClusterHealth): SlackMessage {
  const running = health.nodes.filter((n) => n.running).length;
  const partial = health.partial;
  const answering =
    partial && partial.silent.length > 0
      ? `not answering: ${partial.silent.map(escapeText).join(', ')}`
      : 'every node answers SSH';
  const summary = partial
    ? `${answering}; the full reading follows here`
    : `${running}/${health.nodes.length} nodes running`;
  const blocks: Block[] = [
    header(`${health.cluster}: ${health.headline}`),
    section(
      `${HEADLINE_ICON[health.headline]} *${escapeText(health.cluster)}* is *` +
        `${escapeText(health.headline)}* — ${summary}`,
    ),
    ...sectionsOf(health.nodes.map(nodeRow), 40),
  ];
  if (health.problems.length > 0)
    blocks.push(...sectionsOf(['*Problems*', ...health.problems.map((p) => `• ${escapeText(p)}`)], 5));
  const store = health.metadataStore ? ` · metadata store ${escapeText(health.metadataStore)}` : '';
  const flags = health.featureFlagsNotEnabled?.length
    ? ` · feature flags not enabled: ${health.featureFlagsNotEnabled.map(inlineCode).join(', ')}`
    : '';
  blocks.push(
    context(
      partial
        ? 'partial reading: what is known before cluster_status answers'
        : `${health.readFrom ? `read from ${inlineCode(health.readFrom)}` : 'no node answered'}${store}${flags}`,
    ),
  );
  const problems = health.problems.length > 0 ? `: ${health.problems.join('; ')}` : '';
  return { text: plainText(`${health.cluster} is ${health.headline}${problems}`), blocks };
}

/** One node: name, host, running or stopped, versions, alarms, partitions, maintenance. */
export function nodeRow(node: NodeHealth): string {
  const name = `*${escapeText(node.node)}*${node.host && node.host !== node.node ? ` (${escapeText(node.host)})` : ''}`;
  // A partial reading knows only whether the host answers; RabbitMQ's state is not read yet.
  if (node.answering === false) return `:black_circle: ${name} · *not answering*`;
  if (node.answering === true) return `:white_circle: ${name} · answers SSH, RabbitMQ not read yet`;
  const parts = [
    `${node.running ? ':large_green_circle:' : ':red_circle:'} ${name}`,
    node.running ? 'running' : '*stopped*',
  ];
  if (node.rabbitmqVersion) parts.push(`RabbitMQ ${escapeText(node.rabbitmqVersion)}`);
  if (node.erlangVersion) parts.push(`Erlang ${escapeText(node.erlangVersion)}`);
  parts.push(node.alarms.length > 0 ? `:rotating_light: alarms: ${escapeText(node.alarms.join(', '))}` : 'no alarms');
  if (node.partitionedFrom.length > 0)
    parts.push(`:warning: partitioned from ${escapeText(node.partitionedFrom.join(', '))}`);
  if (node.maintenance) parts.push(escapeText(node.maintenance));
  return parts.join(' · ');
}

/** One cluster's line in `/rabbit status` without a name: a status, or why it could not be read. */
export type ClusterSummaryRow = { cluster: string; health: ClusterHealth } | { cluster: string; error: string };

/** `/rabbit status`: one line per configured cluster. */
export function buildClusterSummary(rows: ClusterSummaryRow[]): SlackMessage {
  const lines = rows.map((row) => {
    if ('error' in row)
      return (
        `${HEADLINE_ICON.unreachable} *${escapeText(row.cluster)}* — could not ` +
        `read status: ${escapeText(row.error.split('\n')[0].slice(0, 200))}`
      );
    const { health } = row;
    const running = health.nodes.filter((n) => n.running).length;
    const first = health.problems[0]
      ? ` — ${escapeText(health.problems[0])}` +
        `${health.problems.length > 1 ? ` (+${health.problems.length - 1} more)` : ''}`
      : '';
    return (
      `${HEADLINE_ICON[health.headline]} *${escapeText(row.cluster)}* ` +
      `${escapeText(health.headline)}, ${running}/${health.nodes.length} ` +
      `running${first}`
    );
  });
  const text = rows.map((r) => `${r.cluster}: ${'error' in r ? 'unknown' : r.health.headline}`).join(', ');
  return {
    text: plainText(`Clusters — ${text}`),
    blocks: [
      section('*Clusters*'),
      ...sectionsOf(lines, 45),
      context('`/rabbit status &lt;cluster&gt;` shows every node'),
    ],
  };
}
