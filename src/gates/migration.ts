import { canSetDefaultQueueType, deletableQueues } from '../rabbit/quorum-migration.js';
import type { MigrationPlan, ShownQueue } from '../rabbit/quorum-migration.js';
import type { GateCheck } from './schema.js';

/** The operations that move a cluster from classic (mirrored) queues to quorum queues. */
export type MigrationOperation = 'cluster.migrate-to-quorum' | 'cluster.delete-classic-queues';

export const isMigrationOperation = (operation: string): operation is MigrationOperation =>
  operation === 'cluster.migrate-to-quorum' || operation === 'cluster.delete-classic-queues';

/** How many queue names a line of the report names before it says "and N more". */
const NAMED = 20;

function pass(id: GateCheck['id'], detail: string): GateCheck {
  return { id, ok: true, detail };
}

function refuse(id: GateCheck['id'], detail: string, remedy: string): GateCheck {
  return { id, ok: false, detail, remedy };
}

/** `vhost / queue q1 (5 messages)`: one queue as a report line names it (the front ends escape it). */
export function describeQueue(queue: ShownQueue): string {
  const consumers = queue.consumers > 0 ? `, ${queue.consumers} consumer(s)` : '';
  return `${queue.vhost} ${JSON.stringify(queue.name)} (${queue.messages} message(s)${consumers})`;
}

function named(queues: readonly ShownQueue[]): string {
  const shown = queues.slice(0, NAMED).map(describeQueue).join(', ');
  return queues.length > NAMED ? `${shown} and ${queues.length - NAMED} more` : shown;
}

/** What the migration changes, one line per change and per vhost's classic queues (the approval card's list). */
export function migrationEffects(plan: MigrationPlan): string[] {
  return plan.vhosts.flatMap((v) => [
    ...v.policies.map((p) =>
      p.kind === 'clear'
        ? `vhost ${v.vhost}: policy ${p.name} (${p.removed.join(', ')}) cleared`
        : `vhost ${v.vhost}: policy ${p.name} set again without ${p.removed.join(', ')}`,
    ),
    ...(v.setDefault ? [`vhost ${v.vhost}: default queue type ${v.defaultQueueType} -> quorum`] : []),
    ...(v.classicQueues.length > 0
      ? [`vhost ${v.vhost}: ${v.classicQueues.length} classic queue(s) stay (not deleted): ${named(v.classicQueues)}`]
      : []),
  ]);
}

/**
 * The gates of both migration operations: every member runs (a policy, a vhost's metadata and a
 * classic queue's deletion need its node); migrate needs a version with a vhost default queue type
 * (3.10); delete needs classic queues without consumers, and names exactly those it will delete.
 */
export function judgeMigration(
  operation: MigrationOperation,
  cluster: string,
  members: readonly { host: string; reach: string }[],
  plan: MigrationPlan | undefined,
): { checks: GateCheck[]; wipes: string[]; classicQueues?: ShownQueue[] } {
  const down = members.filter((m) => m.reach !== 'running');
  const checks: GateCheck[] = [
    down.length === 0 && plan
      ? pass('node.reachable', `all ${members.length} node(s) run; read from ${plan.readFrom}`)
      : refuse(
          'node.reachable',
          down.length > 0
            ? `${down.map((m) => `${m.host} (${m.reach})`).join(', ')} not running`
            : `no member of ${cluster} answered`,
          `Start RabbitMQ on every node of ${cluster} (warren status ${cluster}), then ask again.`,
        ),
  ];
  if (!plan) return { checks, wipes: [] };
  if (operation === 'cluster.migrate-to-quorum') {
    const needsDefault = plan.vhosts.some((v) => v.setDefault);
    checks.push(
      !needsDefault || canSetDefaultQueueType(plan.rabbitmqVersion)
        ? pass('migration.supported', `RabbitMQ ${plan.rabbitmqVersion}: ${plan.changes} change(s) to make`)
        : refuse(
            'migration.supported',
            `RabbitMQ ${plan.rabbitmqVersion} has no per-vhost default queue type`,
            'Upgrade the cluster to 3.10 or later first.',
          ),
    );
    const wipes = migrationEffects(plan);
    return {
      checks,
      wipes: wipes.length > 0 ? wipes : ['nothing: no mirroring policy, every vhost defaults to quorum'],
    };
  }
  const { queues, withConsumers, over } = deletableQueues(plan);
  checks.push(
    queues.length > 0
      ? pass(
          'queues.deletable',
          `${queues.length} classic queue(s) without consumers` +
            (withConsumers.length > 0 ? `; ${withConsumers.length} with consumers left out` : '') +
            (over > 0 ? `; ${over} more left for a next request` : ''),
        )
      : refuse(
          'queues.deletable',
          withConsumers.length > 0
            ? `every classic queue has consumers: ${named(withConsumers)}`
            : `${cluster} has no classic queue`,
          withConsumers.length > 0
            ? 'Stop the services consuming from them (and set rabbit_quorum_queue = true), then ask again.'
            : 'Nothing to delete.',
        ),
  );
  const wipes = [
    ...queues.map((q) => `deleted with its messages: ${describeQueue(q)}`),
    ...(withConsumers.length > 0 ? [`kept (consumers must stop first): ${named(withConsumers)}`] : []),
  ];
  return { checks, wipes, classicQueues: queues };
}
