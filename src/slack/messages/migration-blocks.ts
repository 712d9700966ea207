import type { GateReport } from '../../gates/schema.js';
import type { MigrationPlan } from '../../rabbit/quorum-migration.js';
import type { Block } from './mrkdwn.js';
import { escapeText, inlineCode, sectionsOf } from './mrkdwn.js';

/**
 * The migration's part of a card: what changes (or, for a delete, exactly the queues deleted with
 * their message counts) and the oslo.messaging settings. Every name came from a host: escaped.
 */
export function migrationBlocks(report: GateReport): Block[] {
  const plan = report.migration;
  if (!plan) return [];
  const heading =
    report.operation === 'cluster.delete-classic-queues'
      ? `:boom: *Deletes (queue, messages now; consumers must be stopped first):*`
      : `:arrows_counterclockwise: *Changes* (RabbitMQ ${escapeText(plan.rabbitmqVersion)}; ` +
        `read from ${inlineCode(plan.readFrom)}):`;
  const lines = [heading, ...(report.wipes ?? []).map((w) => `• ${escapeText(w)}`)];
  return [
    ...sectionsOf(lines, 8),
    ...(report.operation === 'cluster.migrate-to-quorum' ? sectionsOf(osloLines(plan), 2) : []),
  ];
}

/** The `[oslo_messaging_rabbit]` settings the services need, with the versions each needs. */
export function osloLines(plan: MigrationPlan): string[] {
  return [
    '*oslo.messaging* `[oslo_messaging_rabbit]` for every OpenStack service (then restart them):',
    ...plan.oslo.map(
      (s) =>
        `${s.supported ? ':white_check_mark:' : ':x:'} ${inlineCode(`${s.option} = ${s.value}`)} — ` +
        `oslo.messaging ${escapeText(s.osloMessaging)}, RabbitMQ ${escapeText(s.rabbitmq)}+: ${escapeText(s.why)}`,
    ),
  ];
}
