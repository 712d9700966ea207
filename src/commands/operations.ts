import type { CommandName } from './schema.js';

/** Which front ends offer a command: `jobs` is Slack's; the CLI has its own help (--help). */
export type FrontEnd = 'slack' | 'cli';

/**
 * One row of the grammar both front ends share: the words that name the command, its arguments,
 * whether it takes --dry-run, and what it does. `/rabbit help`, `warren --help` and the CLI's
 * commands are all generated from these rows, so the two front ends cannot drift apart.
 */
export interface CommandSpec {
  name: CommandName;
  /** The words typed after `/rabbit` or `warren`, e.g. `node reset`. */
  words: string;
  /** The arguments in usage notation: `<cluster>` required, `[<cluster>]` optional. */
  args: string[];
  /** Takes --dry-run: show the commands (and for a destructive command, the gates' verdict), change nothing. */
  dryRun: boolean;
  /** Options that take a value, in usage notation (`--to <version>`), each with what it means. */
  options?: { flag: string; summary: string }[];
  summary: string;
  /** What this front end adds to the summary: how the command is allowed there. */
  notes?: Partial<Record<FrontEnd, string>>;
  /** The front ends offering it; both when absent. */
  only?: FrontEnd;
}

const APPROVER_FIRST = { slack: ' (asks an approver first)', cli: '; without --yes: plan and gates only' } as const;

/** Every command, in the order help lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  { name: 'help', words: 'help', args: [], dryRun: false, summary: 'this list', only: 'slack' },
  {
    name: 'cluster.create',
    words: 'cluster create',
    args: ['<cluster>'],
    dryRun: true,
    summary: 'build a RabbitMQ cluster from the config (--dry-run: show the commands per host, change nothing)',
  },
  {
    name: 'status',
    words: 'status',
    args: ['[<cluster>]'],
    dryRun: false,
    summary: "a cluster's nodes, versions, alarms and partitions; without a name, one line per cluster",
  },
  { name: 'jobs', words: 'jobs', args: [], dryRun: false, summary: 'recent and running operations', only: 'slack' },
  {
    name: 'node.reset',
    words: 'node reset',
    args: ['<cluster>', '<host>'],
    dryRun: true,
    summary: 'wipe one node back to a blank single node',
    notes: APPROVER_FIRST,
  },
  {
    name: 'node.remove',
    words: 'node remove',
    args: ['<cluster>', '<host>'],
    dryRun: true,
    summary: 'take a node out of the cluster for good and reset it',
    notes: APPROVER_FIRST,
  },
  {
    name: 'node.add',
    words: 'node add',
    args: ['<cluster>', '<host>'],
    dryRun: true,
    summary: 'install and join one more inventory host; the join wipes it',
    notes: APPROVER_FIRST,
  },
  {
    name: 'cluster.teardown',
    words: 'cluster teardown',
    args: ['<cluster>'],
    dryRun: true,
    summary: 'reset every node of the cluster',
    notes: APPROVER_FIRST,
  },
  {
    name: 'audit',
    words: 'audit',
    args: ['[<cluster>]'],
    dryRun: false,
    summary: 'the latest requests, approvals, refusals and results',
  },
  {
    name: 'upgrade-check',
    words: 'upgrade-check',
    args: ['<cluster>'],
    dryRun: false,
    options: [
      { flag: '--to <version>', summary: 'the version or series to judge the path to (default: the next series)' },
    ],
    summary:
      "can the cluster be upgraded: each node's RabbitMQ and Erlang, feature " +
      'flags not enabled, deprecated features in use, mirroring policies, ' +
      'under-replicated quorum queues, alarms, and the path to --to ' +
      '(read-only)',
  },
  {
    name: 'cluster.migrate-to-quorum',
    words: 'cluster migrate-to-quorum',
    args: ['<cluster>'],
    dryRun: true,
    summary:
      'move off classic mirrored queues: remove the mirroring (ha-mode) policies, make quorum the default queue ' +
      'type of every vhost, list the classic queues that remain and the oslo.messaging settings the services need ' +
      '(--dry-run: the plan only)',
    notes: APPROVER_FIRST,
  },
  {
    name: 'cluster.delete-classic-queues',
    words: 'cluster delete-classic-queues',
    args: ['<cluster>'],
    dryRun: true,
    summary:
      'delete the classic queues without consumers, exactly those shown with their message counts (stop the ' +
      'consumers first; a queue that changed since is kept)',
    notes: APPROVER_FIRST,
  },
  {
    name: 'feature-flags.enable',
    words: 'feature-flags enable',
    args: ['<cluster>'],
    dryRun: true,
    summary:
      'enable every stable feature flag not yet enabled (an upgrade needs them; a flag cannot be disabled again; ' +
      'every node must run; --dry-run: the flags it would enable)',
    notes: APPROVER_FIRST,
  },
  {
    name: 'cluster.restart',
    words: 'cluster restart',
    args: ['<cluster>'],
    dryRun: true,
    summary:
      'rolling restart: one node at a time, the seed last, each drained, restarted and revived once ' +
      'its quorum queues allow (--dry-run: the commands per node)',
    notes: {
      slack: ' (asks an approver first, unless the cluster has approval: operator)',
      cli: APPROVER_FIRST.cli,
    },
  },
  {
    name: 'watch',
    words: 'watch',
    args: ['<cluster>', '[<channel>]'],
    dryRun: false,
    summary:
      'read the cluster every period and alert the channel (default: this one) on a change: a node down or back, ' +
      'a partition, an alarm, quorum queues that lost members, a node in maintenance too long',
  },
  { name: 'unwatch', words: 'unwatch', args: ['<cluster>'], dryRun: false, summary: 'stop watching the cluster' },
  {
    name: 'watches',
    words: 'watches',
    args: [],
    dryRun: false,
    summary: 'the watched clusters, where their alerts go and what is open',
  },
];

/** The row of one command. */
export function commandSpec(name: CommandName): CommandSpec {
  const spec = COMMANDS.find((c) => c.name === name);
  if (!spec) throw new Error(`no grammar row for ${name}`);
  return spec;
}

/** The commands a front end offers, in help order. */
export function commandsOf(front: FrontEnd): CommandSpec[] {
  return COMMANDS.filter((c) => c.only === undefined || c.only === front);
}

/** `node reset <cluster> <host> [--dry-run]`: the words and arguments as usage shows them. */
export function synopsis(spec: CommandSpec): string {
  return [
    spec.words,
    ...spec.args,
    ...(spec.options ?? []).map((o) => `[${o.flag}]`),
    ...(spec.dryRun ? ['[--dry-run]'] : []),
  ].join(' ');
}

/** What the command does, as `front` says it. */
export function describeFor(spec: CommandSpec, front: FrontEnd): string {
  return `${spec.summary}${spec.notes?.[front] ?? ''}`;
}
