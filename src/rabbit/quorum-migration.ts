import { z } from 'zod';
import { WarrenError } from '../errors.js';
import { sh } from '../ssh/quote.js';
import type { ShellCommand } from '../ssh/quote.js';
import { AS_RABBITMQ } from './commands.js';
import type { Policies } from './policies.js';
import { compareVersions } from './version.js';

/**
 * The move from classic (mirrored) queues to quorum queues, as OpenStack deployments make it: what
 * the cluster holds (parsers of the nodes' output), the commands that change it (per version, as
 * measured on 3.10.8, 4.0.5 and 4.3.6), and the plan built from both, without I/O.
 */

/** AMQP 0-9-1 caps queue and vhost names at 255 bytes; a longer name is a hostile or broken host. */
const Name = z.string().max(255);
/** What warren lists of one vhost: more queues than this is no cluster the migration is for. */
export const MAX_QUEUES_PER_VHOST = 20_000;
/** How many queues one delete request names (shown on the card and in the terminal, carried in the job). */
export const MAX_DELETE_QUEUES = 100;

/** `list_queues name type messages consumers` as JSON; 3.10.8 prints "" for fields a queue type lacks. */
export const QueueRows = z
  .array(
    z
      .object({
        name: Name,
        type: z.string().max(64).optional(),
        messages: z.union([z.number().int().nonnegative(), z.literal('')]).optional(),
        consumers: z.union([z.number().int().nonnegative(), z.literal('')]).optional(),
      })
      .loose(),
  )
  .max(MAX_QUEUES_PER_VHOST);
export type QueueRows = z.infer<typeof QueueRows>;

/** `list_vhosts name default_queue_type` as JSON; 3.10.8 prints "undefined" for a vhost without one. */
export const VhostRows = z
  .array(z.object({ name: Name, default_queue_type: z.string().max(64).optional() }).loose())
  .max(10_000);
export type VhostRows = z.infer<typeof VhostRows>;

/** One classic queue as the plan shows it (and a delete request carries it): name, vhost, messages, consumers. */
export const ShownQueue = z
  .object({
    vhost: Name,
    name: Name,
    messages: z.number().int().nonnegative(),
    consumers: z.number().int().nonnegative(),
  })
  .strict();
export type ShownQueue = z.infer<typeof ShownQueue>;

/** The classic queues of one vhost's listing (quorum queues and streams are what the migration leaves). */
export function classicQueues(vhost: string, rows: QueueRows): ShownQueue[] {
  return rows
    .filter((q) => (q.type ?? 'classic') === 'classic')
    .map((q) => ({
      vhost,
      name: q.name,
      messages: typeof q.messages === 'number' ? q.messages : 0,
      consumers: typeof q.consumers === 'number' ? q.consumers : 0,
    }));
}

/** A policy key that mirrors classic queues: ha-mode, ha-params, ha-sync-mode, ha-promote-on-*, … */
export const isMirroringKey = (key: string): boolean => key.startsWith('ha-');

/**
 * What becomes of one mirroring policy: cleared when it held only mirroring keys, set again without them when it
 * also held others (a message-ttl stays).
 */
const PolicyBase = { vhost: Name, name: Name, pattern: z.string().max(2_000), removed: z.array(z.string().max(255)) };
export const PolicyChange = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('clear'), ...PolicyBase }).strict(),
  z
    .object({
      kind: z.literal('rewrite'),
      ...PolicyBase,
      priority: z.number().int(),
      applyTo: z.string().max(64),
      definition: z.record(z.string(), z.unknown()),
    })
    .strict(),
]);
export type PolicyChange = z.infer<typeof PolicyChange>;

/** The changes one vhost's policies need: only those setting a mirroring key. */
export function policyChanges(vhost: string, policies: Policies): PolicyChange[] {
  return policies.flatMap((p): PolicyChange[] => {
    const keys = Object.keys(p.definition);
    const removed = keys.filter(isMirroringKey);
    if (removed.length === 0) return [];
    const base = { vhost: p.vhost ?? vhost, name: p.name, pattern: p.pattern ?? '', removed };
    const kept = keys.filter((k) => !isMirroringKey(k));
    if (kept.length === 0) return [{ kind: 'clear', ...base }];
    const priority = typeof p.priority === 'number' && Number.isInteger(p.priority) ? p.priority : 0;
    const applyTo = typeof p['apply-to'] === 'string' && p['apply-to'] !== '' ? p['apply-to'] : 'all';
    return [
      {
        kind: 'rewrite',
        ...base,
        priority,
        applyTo,
        definition: Object.fromEntries(kept.map((k) => [k, p.definition[k]])),
      },
    ];
  });
}

/** What one vhost holds, as read from a running member. */
export interface VhostFacts {
  name: string;
  /** As the node prints it: `classic`, `quorum`, `undefined` (3.10.8 without one), or absent. */
  defaultQueueType?: string;
  policies: Policies;
  queues: QueueRows;
}

/** What the plan is built from: the lowest RabbitMQ version among the running members, and every vhost. */
export interface MigrationFacts {
  cluster: string;
  readFrom: string;
  rabbitmqVersion: string;
  vhosts: VhostFacts[];
}

/** One oslo.messaging option the OpenStack services need, with what it needs of oslo.messaging and RabbitMQ. */
export const OsloSetting = z.object({
  /** `[oslo_messaging_rabbit]` option. */
  option: z.string(),
  value: z.string(),
  /** The oslo.messaging release that has it (OpenStack series in brackets). */
  osloMessaging: z.string(),
  /** The RabbitMQ release it needs. */
  rabbitmq: z.string(),
  /** Whether this cluster's RabbitMQ has what it needs. */
  supported: z.boolean(),
  why: z.string(),
});
export type OsloSetting = z.infer<typeof OsloSetting>;

/** The plan of one vhost. */
export const VhostPlan = z.object({
  vhost: Name,
  defaultQueueType: z.string().max(64),
  /** True when the default queue type is to be set to quorum. */
  setDefault: z.boolean(),
  policies: z.array(PolicyChange),
  classicQueues: z.array(ShownQueue),
});
export type VhostPlan = z.infer<typeof VhostPlan>;

/** The read-only migration plan: what the approved migration changes, what stays, what the services need. */
export const MigrationPlan = z.object({
  cluster: z.string(),
  readFrom: z.string(),
  rabbitmqVersion: z.string(),
  vhosts: z.array(VhostPlan),
  oslo: z.array(OsloSetting),
  /** How many changes the approved migration makes (policies + vhosts); 0: already migrated. */
  changes: z.number().int(),
  /** Classic queues across vhosts (the migration lists them; a separate request deletes them). */
  classicQueueCount: z.number().int(),
});
export type MigrationPlan = z.infer<typeof MigrationPlan>;

/**
 * The oslo.messaging settings for quorum queues. Measured in oslo.messaging's history: `rabbit_quorum_queue` came in
 * 12.13.0 (Yoga); `rabbit_transient_quorum_queue` and `rabbit_stream_fanout` (with `use_queue_manager`) in 14.7.0
 * (2024.1 Caracal). Quorum queues need RabbitMQ 3.8, streams 3.9.
 */
export function osloSettings(rabbitmqVersion: string): OsloSetting[] {
  const atLeast = (v: string): boolean => compareVersions(rabbitmqVersion, v) >= 0;
  return [
    {
      option: 'rabbit_quorum_queue',
      value: 'true',
      osloMessaging: '12.13.0 (Yoga)',
      rabbitmq: '3.8',
      supported: atLeast('3.8'),
      why: 'declare RPC and notification queues as quorum queues (x-queue-type: quorum)',
    },
    {
      option: 'rabbit_transient_quorum_queue',
      value: 'true',
      osloMessaging: '14.7.0 (2024.1 Caracal)',
      rabbitmq: '3.8',
      supported: atLeast('3.8'),
      why: 'reply and fanout queues as quorum queues too (else they stay classic and unreplicated)',
    },
    {
      option: 'rabbit_stream_fanout',
      value: 'true',
      osloMessaging: '14.7.0 (2024.1 Caracal)',
      rabbitmq: '3.9',
      supported: atLeast('3.9'),
      why: 'one stream per fanout exchange instead of a queue per consumer (needs rabbit_quorum_queue)',
    },
    {
      option: 'rabbit_ha_queues',
      value: 'false',
      osloMessaging: 'any',
      rabbitmq: 'any',
      supported: true,
      why: 'classic mirroring off: it conflicts with rabbit_quorum_queue (and 4.0 removed it)',
    },
  ];
}

/** The vhost's default queue type can be set from 3.10 (3.10.8 has no update_vhost_metadata, see below). */
export function canSetDefaultQueueType(rabbitmqVersion: string): boolean {
  return compareVersions(rabbitmqVersion, '3.10') >= 0;
}

/**
 * The plan, pure: per vhost the mirroring policies to clear or rewrite, whether its default queue type is to become
 * quorum, its classic queues (sorted by name); the oslo.messaging settings for the cluster's version.
 */
export function buildMigrationPlan(facts: MigrationFacts): MigrationPlan {
  const vhosts = [...facts.vhosts]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((v): VhostPlan => {
      const defaultQueueType = v.defaultQueueType ?? 'undefined';
      return {
        vhost: v.name,
        defaultQueueType,
        setDefault: defaultQueueType !== 'quorum',
        policies: policyChanges(v.name, v.policies),
        classicQueues: classicQueues(v.name, v.queues).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      };
    });
  return {
    cluster: facts.cluster,
    readFrom: facts.readFrom,
    rabbitmqVersion: facts.rabbitmqVersion,
    vhosts,
    oslo: osloSettings(facts.rabbitmqVersion),
    changes: vhosts.reduce((n, v) => n + v.policies.length + (v.setDefault ? 1 : 0), 0),
    classicQueueCount: vhosts.reduce((n, v) => n + v.classicQueues.length, 0),
  };
}

/**
 * The queues a delete request names: classic queues without consumers (a queue with consumers is
 * in use: its consumers must stop first), at most MAX_DELETE_QUEUES in plan order; the rest are
 * counted, for the request to say what it leaves.
 */
export function deletableQueues(plan: MigrationPlan): {
  queues: ShownQueue[];
  withConsumers: ShownQueue[];
  over: number;
} {
  const all = plan.vhosts.flatMap((v) => v.classicQueues);
  const free = all.filter((q) => q.consumers === 0);
  return {
    queues: free.slice(0, MAX_DELETE_QUEUES),
    withConsumers: all.filter((q) => q.consumers > 0),
    over: Math.max(0, free.length - MAX_DELETE_QUEUES),
  };
}

/** `rabbitmqctl -q ARGS` as the rabbitmq account (AS_RABBITMQ: vhost and queue names come from the node). */
function rabbitmqctl(args: readonly string[], label: string): ShellCommand {
  return sh`${AS_RABBITMQ} rabbitmqctl -q ${args} </dev/null`.named(`rabbitmqctl ${label}`);
}

/** `list_vhosts name default_queue_type` (3.10.8 prints it; "undefined" when unset). */
export function listVhostDefaultsCommand(): ShellCommand {
  return rabbitmqctl(['list_vhosts', '--formatter', 'json', 'name', 'default_queue_type'], 'list_vhosts');
}

/** The vhost's queues with what the plan shows (`--vhost=V`: a vhost name starting with "-" is no option). */
export function listVhostQueuesCommand(vhost: string): ShellCommand {
  return rabbitmqctl(
    ['list_queues', '--formatter', 'json', `--vhost=${vhost}`, 'name', 'type', 'messages', 'consumers'],
    'list_queues',
  );
}

/** `list_policies` of one vhost. */
export function listVhostPoliciesCommand(vhost: string): ShellCommand {
  return rabbitmqctl(['list_policies', '--formatter', 'json', `--vhost=${vhost}`], 'list_policies');
}

/** Exit 69 of clear_policy: "Parameter does not exist" (3.10.8, 4.3.6): already cleared. */
export const POLICY_ABSENT_EXIT = 69;

/** Removes a policy (`--`: a name starting with "-" is no option). */
export function clearPolicyCommand(vhost: string, name: string): ShellCommand {
  return rabbitmqctl(['clear_policy', `--vhost=${vhost}`, '--', name], 'clear_policy');
}

/** Sets a policy again, as it was but for its mirroring keys. */
export function rewritePolicyCommand(change: Extract<PolicyChange, { kind: 'rewrite' }>): ShellCommand {
  return rabbitmqctl(
    [
      'set_policy',
      `--vhost=${change.vhost}`,
      `--priority=${change.priority}`,
      `--apply-to=${change.applyTo}`,
      '--',
      change.name,
      change.pattern,
      JSON.stringify(change.definition),
    ],
    'set_policy',
  );
}

/** A name as an Erlang binary of byte values (`<<47>>` for "/"): no quoting of a host's text inside Erlang. */
export function erlangBinary(text: string): string {
  return `<<${[...Buffer.from(text, 'utf8')].join(',')}>>`;
}

/**
 * Makes quorum the vhost's default queue type. From 3.11 (and on 4.0.5, 4.3.6): `update_vhost_metadata
 * --default-queue-type quorum`. 3.10.8 has no update_vhost_metadata (`add_vhost --default-queue-type` only sets it on
 * a new vhost, an existing one is left as it was); its rabbit_vhost:update_metadata/2 does it in a Mnesia transaction,
 * and new queues declared without x-queue-type are then quorum queues (measured). Before 3.10 a vhost has no default
 * queue type.
 */
export function setVhostQuorumDefaultCommand(vhost: string, rabbitmqVersion: string): ShellCommand {
  if (compareVersions(rabbitmqVersion, '3.11') >= 0)
    return rabbitmqctl(
      ['update_vhost_metadata', '--default-queue-type', 'quorum', '--', vhost],
      'update_vhost_metadata',
    );
  if (!canSetDefaultQueueType(rabbitmqVersion))
    throw new WarrenError(
      'replication.unsupported',
      `RabbitMQ ${rabbitmqVersion} has no per-vhost default queue type`,
      {
        hint: 'Upgrade to 3.10 or later first; until then the services must declare quorum queues themselves.',
      },
    );
  const expression =
    `case rabbit_misc:execute_mnesia_transaction(fun() -> rabbit_vhost:update_metadata(${erlangBinary(vhost)}, ` +
    `fun(M) -> M#{default_queue_type => <<"quorum">>} end) end) of {aborted, R} -> erlang:error(R); _ -> ok end.`;
  return rabbitmqctl(['eval', expression], 'eval rabbit_vhost:update_metadata');
}

/**
 * Deletes one classic queue unless it has consumers (`--if-unused`). Measured: a queue with a consumer is refused with
 * exit 64 on 3.10.8, 69 on 4.3.6; a queue that is gone is exit 64 on both ("Queue not found" / "No such queue"): the
 * caller reads the queues again to say which.
 */
export function deleteQueueCommand(queue: ShownQueue): ShellCommand {
  return rabbitmqctl(['delete_queue', `--vhost=${queue.vhost}`, '--if-unused', '--', queue.name], 'delete_queue');
}
