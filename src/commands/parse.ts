import type { WarrenConfig } from '../config/schema.js';
import { USAGE, allUsage } from './help.js';
import { ChannelId, RabbitCommand, UpgradeTarget } from './schema.js';
import type { CommandName, ParseResult, UsageError, UsageErrorCode } from './schema.js';

/** Longer than any real command; anything past it is pasted text, not a command. */
export const MAX_COMMAND_LENGTH = 200;

const ALLOWED_CHARACTER = /^[A-Za-z0-9._ \t-]$/;
const VERBS = [
  'help',
  'cluster',
  'node',
  'status',
  'jobs',
  'audit',
  'upgrade-check',
  'feature-flags',
  'watch',
  'unwatch',
  'watches',
] as const;
const NODE_ACTIONS = ['reset', 'remove', 'add'] as const;
const CLUSTER_ACTIONS = ['create', 'teardown', 'migrate-to-quorum', 'delete-classic-queues', 'restart'] as const;

/**
 * Turns `/rabbit` text into a typed command, or a usage error that names what was wrong.
 * Only letters, digits, ".", "-", "_" and spaces get past the first check, so nothing a shell
 * would interpret can reach a command, a log line or a message unescaped.
 */
export function parseCommand(text: string): ParseResult {
  if (text.length > MAX_COMMAND_LENGTH) {
    return fail(
      'usage.too_long',
      `the command is ${text.length} characters long; commands are at most ${MAX_COMMAND_LENGTH}`,
      allUsage(),
    );
  }
  if (/[\r\n\u2028\u2029]/.test(text)) return fail('usage.multiline', 'the command must be on one line', allUsage());
  const normalized = channelMentionsToIds(normalize(text));
  if (/(^|\s)#\S/.test(normalized))
    return fail(
      'usage.bad_channel',
      'name the channel by its id (such as C0123ABCD: channel details, at the bottom), or run the command in it',
      [USAGE.watch],
    );
  const bad = findBadCharacter(normalized);
  if (bad) {
    return fail(
      'usage.bad_character',
      `unexpected character ${bad.description} at position ${bad.position}: ` +
        `commands use only letters, digits, ".", "-", "_" and spaces`,
      allUsage(),
    );
  }
  const tokens = normalized.split(/[ \t]+/).filter((t) => t.length > 0);
  const [verb, ...rest] = tokens;
  if (verb === undefined) return ok({ name: 'help' });
  switch (verb.toLowerCase()) {
    case 'help':
    case '-h':
    case '--help':
      // Asking for help with extra words still deserves help.
      return ok({ name: 'help' });
    case 'cluster':
      return parseCluster(rest);
    case 'status':
      return parseStatus(rest);
    case 'node':
      return parseNode(rest);
    case 'jobs':
      return rest.length === 0 ? ok({ name: 'jobs' }) : unexpected('jobs', rest[0]);
    case 'audit':
      return parseAudit(rest);
    case 'upgrade-check':
      return parseUpgradeCheck(rest);
    case 'feature-flags':
      return parseFeatureFlags(rest);
    case 'watch':
      return parseWatch(rest);
    case 'unwatch':
      return parseUnwatch(rest);
    case 'watches':
      return rest.length === 0 ? ok({ name: 'watches' }) : unexpected('watches', rest[0]);
    default:
      return fail('usage.unknown_command', `unknown command "${verb}"${suggestionFor(verb.toLowerCase())}`, allUsage());
  }
}

/** Refuses a command naming a cluster the config does not have, listing the ones it has. */
export function checkClusterKnown(
  command: RabbitCommand,
  config: Pick<WarrenConfig, 'clusters'>,
): UsageError | undefined {
  if (!('cluster' in command) || command.cluster === undefined) return undefined;
  const known = config.clusters.map((c) => c.name);
  if (known.includes(command.cluster)) return undefined;
  return {
    code: 'usage.unknown_cluster',
    message: `unknown cluster "${command.cluster}"; known clusters: ${known.join(', ')}`,
    usage: [USAGE[command.name]],
  };
}

/**
 * Refuses a host that is not in the inventory, listing the ones that are. Whether the host belongs
 * to the cluster (a reset needs a member, an add a non-member) is the safety gates' to judge.
 */
export function checkHostKnown(command: RabbitCommand, config: Pick<WarrenConfig, 'hosts'>): UsageError | undefined {
  if (!('host' in command)) return undefined;
  const known = config.hosts.map((h) => h.name);
  if (known.includes(command.host)) return undefined;
  return {
    code: 'usage.unknown_host',
    message: `unknown host "${command.host}"; inventory hosts: ${known.join(', ')}`,
    usage: [USAGE[command.name]],
  };
}

function parseCluster(args: string[]): ParseResult {
  const [sub, ...rest] = args;
  const usage = CLUSTER_ACTIONS.map((action) => USAGE[`cluster.${action}`]);
  if (sub === undefined)
    return fail(
      'usage.missing_argument',
      `"cluster" needs a subcommand: cluster ${CLUSTER_ACTIONS.join('|')} <cluster>`,
      usage,
    );
  const action = sub.toLowerCase();
  if (!isOneOf(CLUSTER_ACTIONS, action))
    return fail('usage.unknown_command', `unknown subcommand "cluster ${sub}"`, usage);
  const name = `cluster.${action}` as const;
  const { positional, flags } = splitArgs(rest);
  const unknownFlag = flags.find((f) => f !== '--dry-run');
  if (unknownFlag !== undefined)
    return fail('usage.unknown_option', `unknown option "${unknownFlag}" for cluster ${action} (options: --dry-run)`, [
      USAGE[name],
    ]);
  if (positional.length === 0)
    return fail('usage.missing_argument', `cluster ${action} needs a cluster name`, [USAGE[name]]);
  if (positional.length > 1) return unexpected(name, positional[1]);
  return validated({ name, cluster: positional[0], dryRun: flags.includes('--dry-run') });
}

/** `node reset|remove|add <cluster> <host> [--dry-run]`. */
function parseNode(args: string[]): ParseResult {
  const [sub, ...rest] = args;
  const usage = NODE_ACTIONS.map((action) => USAGE[`node.${action}`]);
  if (sub === undefined)
    return fail('usage.missing_argument', '"node" needs a subcommand: node reset|remove|add <cluster> <host>', usage);
  const action = sub.toLowerCase();
  if (!isOneOf(NODE_ACTIONS, action)) return fail('usage.unknown_command', `unknown subcommand "node ${sub}"`, usage);
  const name = `node.${action}` as const;
  const { positional, flags } = splitArgs(rest);
  const unknownFlag = flags.find((f) => f !== '--dry-run');
  if (unknownFlag !== undefined)
    return fail('usage.unknown_option', `unknown option "${unknownFlag}" for node ${action} (options: --dry-run)`, [
      USAGE[name],
    ]);
  if (positional.length === 0)
    return fail('usage.missing_argument', `node ${action} needs a cluster name and a host`, [USAGE[name]]);
  if (positional.length === 1)
    return fail('usage.missing_argument', `node ${action} needs the host to act on after the cluster name`, [
      USAGE[name],
    ]);
  if (positional.length > 2) return unexpected(name, positional[2]);
  return validated({ name, cluster: positional[0], host: positional[1], dryRun: flags.includes('--dry-run') });
}

function parseAudit(args: string[]): ParseResult {
  const { positional, flags } = splitArgs(args);
  if (flags.length > 0)
    return fail('usage.unknown_option', `unknown option "${flags[0]}" for audit (it takes none)`, [USAGE.audit]);
  if (positional.length > 1) return unexpected('audit', positional[1]);
  return validated(positional.length === 0 ? { name: 'audit' } : { name: 'audit', cluster: positional[0] });
}

/** `upgrade-check <cluster> [--to <version>]`: the option's value is the token after it. */
function parseUpgradeCheck(args: string[]): ParseResult {
  const usage = [USAGE['upgrade-check']];
  const positional: string[] = [];
  let to: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const token = args[i];
    if (!token.startsWith('-')) {
      positional.push(token);
      continue;
    }
    if (token.toLowerCase() !== '--to')
      return fail(
        'usage.unknown_option',
        `unknown option "${token}" for upgrade-check (options: --to <version>)`,
        usage,
      );
    const value = args[i + 1];
    if (value === undefined || value.startsWith('-'))
      return fail('usage.missing_argument', '--to needs a version, such as 4.0 or 4.0.5', usage);
    if (to !== undefined) return fail('usage.unexpected_argument', '--to is given twice', usage);
    if (!UpgradeTarget.safeParse(value).success)
      return fail(
        'usage.bad_version',
        `"${value}" is not a version: name a series such as 4.0 or a release such as 4.0.5`,
        usage,
      );
    to = value;
    i++;
  }
  if (positional.length === 0) return fail('usage.missing_argument', 'upgrade-check needs a cluster name', usage);
  if (positional.length > 1) return unexpected('upgrade-check', positional[1]);
  return validated({ name: 'upgrade-check', cluster: positional[0], ...(to === undefined ? {} : { to }) });
}

/** `feature-flags enable <cluster> [--dry-run]`. */
function parseFeatureFlags(args: string[]): ParseResult {
  const usage = [USAGE['feature-flags.enable']];
  const [sub, ...rest] = args;
  if (sub === undefined)
    return fail('usage.missing_argument', '"feature-flags" needs a subcommand: feature-flags enable <cluster>', usage);
  if (sub.toLowerCase() !== 'enable')
    return fail('usage.unknown_command', `unknown subcommand "feature-flags ${sub}"`, usage);
  const { positional, flags } = splitArgs(rest);
  const unknownFlag = flags.find((f) => f !== '--dry-run');
  if (unknownFlag !== undefined)
    return fail(
      'usage.unknown_option',
      `unknown option "${unknownFlag}" for feature-flags enable (options: --dry-run)`,
      usage,
    );
  if (positional.length === 0)
    return fail('usage.missing_argument', 'feature-flags enable needs a cluster name', usage);
  if (positional.length > 1) return unexpected('feature-flags.enable', positional[1]);
  return validated({ name: 'feature-flags.enable', cluster: positional[0], dryRun: flags.includes('--dry-run') });
}

/** `watch <cluster> [<channel>]`: the channel as an id (a `<#C…|name>` mention was turned into one). */
function parseWatch(args: string[]): ParseResult {
  const { positional, flags } = splitArgs(args);
  if (flags.length > 0)
    return fail('usage.unknown_option', `unknown option "${flags[0]}" for watch (it takes none)`, [USAGE.watch]);
  if (positional.length === 0) return fail('usage.missing_argument', 'watch needs a cluster name', [USAGE.watch]);
  if (positional.length > 2) return unexpected('watch', positional[2]);
  const [cluster, channel] = positional;
  if (channel !== undefined && !ChannelId.safeParse(channel).success)
    return fail('usage.bad_channel', `"${channel}" is not a channel id such as C0123ABCD`, [USAGE.watch]);
  return validated({ name: 'watch', cluster, ...(channel === undefined ? {} : { channel }) });
}

function parseUnwatch(args: string[]): ParseResult {
  const { positional, flags } = splitArgs(args);
  if (flags.length > 0)
    return fail('usage.unknown_option', `unknown option "${flags[0]}" for unwatch (it takes none)`, [USAGE.unwatch]);
  if (positional.length === 0) return fail('usage.missing_argument', 'unwatch needs a cluster name', [USAGE.unwatch]);
  if (positional.length > 1) return unexpected('unwatch', positional[1]);
  return validated({ name: 'unwatch', cluster: positional[0] });
}

/** Slack writes a channel picked in the composer as `<#C0123ABCD|name>` (or `<#C0123ABCD>`): keep the id. */
function channelMentionsToIds(text: string): string {
  return text.replace(/<#([CG][A-Z0-9]{2,20})(?:\|[^<>\s]{0,80})?>/g, '$1');
}

function parseStatus(args: string[]): ParseResult {
  const { positional, flags } = splitArgs(args);
  if (flags.length > 0)
    return fail('usage.unknown_option', `unknown option "${flags[0]}" for status (it takes none)`, [USAGE.status]);
  if (positional.length > 1) return unexpected('status', positional[1]);
  return validated(positional.length === 0 ? { name: 'status' } : { name: 'status', cluster: positional[0] });
}

/** The zod check at the boundary: cluster and host names must be SafeNames, whatever the tokenizer let through. */
function validated(candidate: {
  name: CommandName;
  cluster?: string;
  host?: string;
  dryRun?: boolean;
  to?: string;
  channel?: string;
}): ParseResult {
  const result = RabbitCommand.safeParse(candidate);
  if (result.success) return ok(result.data);
  const issue = result.error.issues[0];
  const field = issue?.path[0] === 'host' ? 'host' : 'cluster';
  const value = candidate[field] ?? '';
  return fail('usage.bad_name', `"${value}" is not a ${field} name: ${issue?.message ?? 'invalid'}`, [
    USAGE[candidate.name],
  ]);
}

function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}

function splitArgs(args: string[]): { positional: string[]; flags: string[] } {
  return {
    positional: args.filter((a) => !a.startsWith('-')),
    flags: args.filter((a) => a.startsWith('-')).map((f) => f.toLowerCase()),
  };
}

/**
 * Slack's clients turn a typed "--" into an em or en dash and spaces into no-break spaces;
 * undo both so `—dry-run` means what the user typed.
 */
function normalize(text: string): string {
  return text
    .replace(/\u00a0/g, ' ')
    .replace(/(^|\s)[\u2013\u2014]+(?=\S)/g, '$1--')
    .trim();
}

function findBadCharacter(text: string): { description: string; position: number } | undefined {
  let position = 0;
  for (const char of text) {
    position += 1;
    if (!ALLOWED_CHARACTER.test(char)) return { description: describeCharacter(char), position };
  }
  return undefined;
}

function describeCharacter(char: string): string {
  const code = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\x21-\x7e]$/.test(char) ? `${code} (${char})` : code;
}

function suggestionFor(verb: string): string {
  if (verb === 'create' || verb === 'teardown') return `; did you mean "cluster ${verb}"?`;
  if (isOneOf(NODE_ACTIONS, verb)) return `; did you mean "node ${verb}"?`;
  const close = VERBS.find((v) => editDistance(v, verb) <= 2);
  return close ? `; did you mean "${close}"?` : '';
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function unexpected(name: CommandName, argument: string): ParseResult {
  return fail('usage.unexpected_argument', `unexpected argument "${argument}"`, [USAGE[name]]);
}

function ok(command: RabbitCommand): ParseResult {
  return { ok: true, command };
}

function fail(code: UsageErrorCode, message: string, usage: string[]): ParseResult {
  return { ok: false, error: { code, message, usage } };
}
