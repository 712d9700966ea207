import { COMMANDS, describeFor, synopsis } from './operations.js';
import type { CommandName } from './schema.js';

/** One usage line per command, in the order help shows them, generated from the grammar's table. */
export const USAGE = Object.fromEntries(
  COMMANDS.map((spec) => [spec.name, `${synopsis(spec)} — ${describeFor(spec, 'slack')}`]),
) as Record<CommandName, string>;

/** Every usage line, for help and for errors whose intent is unclear. */
export function allUsage(): string[] {
  return Object.values(USAGE);
}

/** The help text shared by Slack (`/rabbit help`) and the CLI, one command per line with `prefix` before each. */
export function helpLines(prefix = '/rabbit'): string[] {
  return allUsage().map((line) => `${prefix} ${line}`);
}
