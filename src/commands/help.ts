import type { CommandName } from './schema.js';

/** One usage line per command, in the order help shows them. */
export const USAGE: Record<CommandName, string> = {
  help: 'help — this list',
  'cluster.create': 'cluster create <cluster> [--dry-run] — build a RabbitMQ cluster from the config (--dry-run: show the commands per host, change nothing)',
  status: 'status [<cluster>] — a cluster\'s nodes, versions, alarms and partitions; without a name, one line per cluster',
  jobs: 'jobs — recent and running operations',
};

/** Every usage line, for help and for errors whose intent is unclear. */
export function allUsage(): string[] {
  return Object.values(USAGE);
}

/** The help text shared by Slack (`/rabbit help`) and the CLI, one command per line with `prefix` before each. */
export function helpLines(prefix = '/rabbit'): string[] {
  return allUsage().map((line) => `${prefix} ${line}`);
}
