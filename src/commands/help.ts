import type { CommandName } from './schema.js';

/** One usage line per command, in the order help shows them. */
export const USAGE: Record<CommandName, string> = {
  help: 'help — this list',
  'cluster.create': 'cluster create <cluster> [--dry-run] — build a RabbitMQ cluster from the config (--dry-run: show the commands per host, change nothing)',
  status: 'status [<cluster>] — a cluster\'s nodes, versions, alarms and partitions; without a name, one line per cluster',
  jobs: 'jobs — recent and running operations',
  'node.reset': 'node reset <cluster> <host> [--dry-run] — wipe one node back to a blank single node (asks an approver first)',
  'node.remove': 'node remove <cluster> <host> [--dry-run] — take a node out of the cluster for good and reset it (asks an approver first)',
  'node.add': 'node add <cluster> <host> [--dry-run] — install and join one more inventory host; the join wipes it (asks an approver first)',
  'cluster.teardown': 'cluster teardown <cluster> [--dry-run] — reset every node of the cluster (asks an approver first)',
  audit: 'audit [<cluster>] — the latest requests, approvals, refusals and results',
};

/** Every usage line, for help and for errors whose intent is unclear. */
export function allUsage(): string[] {
  return Object.values(USAGE);
}

/** The help text shared by Slack (`/rabbit help`) and the CLI, one command per line with `prefix` before each. */
export function helpLines(prefix = '/rabbit'): string[] {
  return allUsage().map((line) => `${prefix} ${line}`);
}
