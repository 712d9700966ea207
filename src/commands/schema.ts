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

/** A `/rabbit` command after parsing: the only shape the front ends act on. */
export const RabbitCommand = z.discriminatedUnion('name', [HelpCommand, ClusterCreateCommand, StatusCommand, JobsCommand]);
export type RabbitCommand = z.infer<typeof RabbitCommand>;
export type CommandName = RabbitCommand['name'];
export type ClusterCreateCommand = z.infer<typeof ClusterCreateCommand>;
export type StatusCommand = z.infer<typeof StatusCommand>;

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
  | 'usage.unknown_cluster';

/** Why a command text was not understood, and the usage line that would have been right. */
export interface UsageError {
  code: UsageErrorCode;
  message: string;
  /** The grammar of the command the user was attempting, or every command when unclear. */
  usage: string[];
}

export type ParseResult = { ok: true; command: RabbitCommand } | { ok: false; error: UsageError };
