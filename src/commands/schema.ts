import { z } from 'zod';
import { SafeName } from '../config/schema.js';

/** `/rabbit help` (also what an empty command text means). */
export const HelpCommand = z.object({ name: z.literal('help') }).strict();

/** `/rabbit cluster create <cluster> [--dry-run]`. */
export const ClusterCreateCommand = z
  .object({
    name: z.literal('cluster.create'),
    cluster: SafeName,
    /** Show the commands per host instead of queueing anything. */
    dryRun: z.boolean(),
  })
  .strict();

/** `/rabbit status [<cluster>]`: one cluster's card, or a line per configured cluster. */
export const StatusCommand = z.object({ name: z.literal('status'), cluster: SafeName.optional() }).strict();

/** `/rabbit jobs`: recent and running operations. */
export const JobsCommand = z.object({ name: z.literal('jobs') }).strict();

/** `/rabbit node reset|remove|add <cluster> <host> [--dry-run]`: one inventory host of a cluster. */
const nodeCommand = <Name extends 'node.reset' | 'node.remove' | 'node.add'>(name: Name) =>
  z
    .object({
      name: z.literal(name),
      cluster: SafeName,
      /** An inventory host name; whether it belongs to the cluster is the safety gates' to judge. */
      host: SafeName,
      /** Show the commands and the gates' verdict instead of asking for approval. */
      dryRun: z.boolean(),
    })
    .strict();
export const NodeResetCommand = nodeCommand('node.reset');
export const NodeRemoveCommand = nodeCommand('node.remove');
export const NodeAddCommand = nodeCommand('node.add');

/** `/rabbit cluster teardown <cluster> [--dry-run]`: reset every node. */
export const ClusterTeardownCommand = z
  .object({ name: z.literal('cluster.teardown'), cluster: SafeName, dryRun: z.boolean() })
  .strict();

/** `/rabbit cluster restart <cluster> [--dry-run]`: a rolling restart, one node at a time, the seed last. */
export const ClusterRestartCommand = z
  .object({ name: z.literal('cluster.restart'), cluster: SafeName, dryRun: z.boolean() })
  .strict();

/** `/rabbit audit [<cluster>]`: the latest audit entries, of one cluster or all. */
export const AuditCommand = z.object({ name: z.literal('audit'), cluster: SafeName.optional() }).strict();

/** A `--to` version: a release series (`4.0`) or a release (`4.0.5`). */
export const UpgradeTarget = z.string().regex(/^\d{1,3}\.\d{1,3}(?:\.\d{1,6})?$/, 'a version such as 4.0 or 4.0.5');

/** `/rabbit upgrade-check <cluster> [--to <version>]`: the read-only upgrade-readiness report card. */
export const UpgradeCheckCommand = z
  .object({ name: z.literal('upgrade-check'), cluster: SafeName, to: UpgradeTarget.optional() })
  .strict();

/** `/rabbit cluster migrate-to-quorum <cluster> [--dry-run]`: mirroring policies off, quorum the vhosts' default. */
export const ClusterMigrateToQuorumCommand = z
  .object({ name: z.literal('cluster.migrate-to-quorum'), cluster: SafeName, dryRun: z.boolean() })
  .strict();

/** `/rabbit cluster delete-classic-queues <cluster> [--dry-run]`: the classic queues shown, deleted. */
export const ClusterDeleteClassicQueuesCommand = z
  .object({ name: z.literal('cluster.delete-classic-queues'), cluster: SafeName, dryRun: z.boolean() })
  .strict();

/** `/rabbit feature-flags enable <cluster> [--dry-run]`: every stable feature flag not yet enabled. */
export const FeatureFlagsEnableCommand = z
  .object({ name: z.literal('feature-flags.enable'), cluster: SafeName, dryRun: z.boolean() })
  .strict();

/** A Slack channel id (`C0123ABCD`), as `<#C0123ABCD|name>` gives it. */
export const ChannelId = z.string().regex(/^[CG][A-Z0-9]{2,20}$/, 'a Slack channel id such as C0123ABCD');

/** `/rabbit watch <cluster> [<channel>]`: read the cluster every period, alert the channel on a change. */
export const WatchCommand = z
  .object({ name: z.literal('watch'), cluster: SafeName, channel: ChannelId.optional() })
  .strict();

/** `/rabbit unwatch <cluster>`: stop watching it. */
export const UnwatchCommand = z.object({ name: z.literal('unwatch'), cluster: SafeName }).strict();

/** `/rabbit watches`: the watched clusters and what each one's last reading found. */
export const WatchesCommand = z.object({ name: z.literal('watches') }).strict();

/** A `/rabbit` command after parsing: the only shape the front ends act on. */
export const RabbitCommand = z.discriminatedUnion('name', [
  HelpCommand,
  ClusterCreateCommand,
  StatusCommand,
  JobsCommand,
  NodeResetCommand,
  NodeRemoveCommand,
  NodeAddCommand,
  ClusterTeardownCommand,
  AuditCommand,
  UpgradeCheckCommand,
  ClusterMigrateToQuorumCommand,
  ClusterDeleteClassicQueuesCommand,
  FeatureFlagsEnableCommand,
  ClusterRestartCommand,
  WatchCommand,
  UnwatchCommand,
  WatchesCommand,
]);
export type RabbitCommand = z.infer<typeof RabbitCommand>;
export type CommandName = RabbitCommand['name'];
export type ClusterCreateCommand = z.infer<typeof ClusterCreateCommand>;
export type StatusCommand = z.infer<typeof StatusCommand>;
export type AuditCommand = z.infer<typeof AuditCommand>;
export type UpgradeCheckCommand = z.infer<typeof UpgradeCheckCommand>;
export type WatchCommand = z.infer<typeof WatchCommand>;

/** The commands that destroy data: requested in chat, run only once another person approves. */
export type DestructiveCommand = Extract<
  RabbitCommand,
  {
    name:
      | 'node.reset'
      | 'node.remove'
      | 'node.add'
      | 'cluster.teardown'
      | 'cluster.migrate-to-quorum'
      | 'cluster.delete-classic-queues'
      | 'feature-flags.enable'
      | 'cluster.restart';
  }
>;

/** True for every operation approved like a destructive one (node reset/remove/add, teardown, migrate, restart…). */
export function isDestructiveCommand(command: RabbitCommand): command is DestructiveCommand {
  return (
    command.name === 'node.reset' ||
    command.name === 'node.remove' ||
    command.name === 'node.add' ||
    command.name === 'cluster.teardown' ||
    command.name === 'cluster.migrate-to-quorum' ||
    command.name === 'cluster.delete-classic-queues' ||
    command.name === 'feature-flags.enable' ||
    command.name === 'cluster.restart'
  );
}

/** Stable codes for a command text we refuse to interpret. */
export type UsageErrorCode =
  | 'usage.too_long'
  | 'usage.multiline'
  | 'usage.bad_character'
  | 'usage.unknown_command'
  | 'usage.missing_argument'
  | 'usage.unexpected_argument'
  | 'usage.unknown_option'
  | 'usage.bad_name'
  | 'usage.bad_version'
  | 'usage.unknown_cluster'
  | 'usage.unknown_host'
  | 'usage.bad_channel';

/** Why a command text was not understood, and the usage line that would have been right. */
export interface UsageError {
  code: UsageErrorCode;
  message: string;
  /** The grammar of the command the user was attempting, or every command when unclear. */
  usage: string[];
}

export type ParseResult = { ok: true; command: RabbitCommand } | { ok: false; error: UsageError };
