import type { RabbitCommand } from '../commands/schema.js';
import type { SlackRole, SlackSettings } from '../config/schema.js';
import type { Refusal } from './messages/refusal.js';

/**
 * The role a command needs. Anything that only reads (a dry run changes nothing; the audit log is
 * read-only) needs viewer; creating, and asking for a destructive operation, need operator.
 * Approving one needs approver, checked by the approval buttons, not here.
 */
export function requiredRole(command: RabbitCommand): SlackRole {
  // A watch posts into a channel on its own from then on: an operator's to start or stop.
  if (command.name === 'watch' || command.name === 'unwatch') return 'operator';
  return 'dryRun' in command && !command.dryRun ? 'operator' : 'viewer';
}

/** What a role grants: an approver may do what an operator may, an operator what a viewer may. */
const GRANTS: Record<SlackRole, SlackRole[]> = {
  viewer: ['viewer'],
  operator: ['viewer', 'operator'],
  approver: ['viewer', 'operator', 'approver'],
};

export type Authorization = { ok: true; roles: SlackRole[] } | { ok: false; refusal: Refusal };

/** May this user use the bot in this channel at all? Checked before the text is even parsed. */
export function authorizeRequest(
  settings: Pick<SlackSettings, 'channels' | 'users'>,
  request: { user: string; channel: string },
): Authorization {
  if (!settings.channels.includes(request.channel))
    return { ok: false, refusal: { reason: 'channel', channel: request.channel } };
  // Own keys only: a user id such as "constructor" must not find Object's.
  const roles = Object.hasOwn(settings.users, request.user) ? settings.users[request.user] : undefined;
  if (!Array.isArray(roles) || roles.length === 0)
    return { ok: false, refusal: { reason: 'user', user: request.user } };
  return { ok: true, roles };
}

/** True when one of the roles grants `needs`. */
export function hasRole(roles: SlackRole[], needs: SlackRole): boolean {
  return roles.some((role) => GRANTS[role].includes(needs));
}

/** May a user with these roles run this command? */
export function authorizeCommand(roles: SlackRole[], command: RabbitCommand, user: string): Refusal | undefined {
  const needs = requiredRole(command);
  if (hasRole(roles, needs)) return undefined;
  return { reason: 'role', user, needs, has: roles, command: commandLabel(command) };
}

/** The command as the user would type it, for refusals and logs. */
export function commandLabel(command: RabbitCommand): string {
  switch (command.name) {
    case 'cluster.create':
    case 'cluster.teardown':
    case 'cluster.migrate-to-quorum':
    case 'cluster.delete-classic-queues':
    case 'feature-flags.enable':
    case 'cluster.restart':
      return `${command.name.replace('.', ' ')} ${command.cluster}${command.dryRun ? ' --dry-run' : ''}`;
    case 'node.reset':
    case 'node.remove':
    case 'node.add':
      return (
        `${command.name.replace('.', ' ')} ${command.cluster} ${command.host}` + `${command.dryRun ? ' --dry-run' : ''}`
      );
    case 'status':
    case 'audit':
      return command.cluster ? `${command.name} ${command.cluster}` : command.name;
    case 'upgrade-check':
      return `upgrade-check ${command.cluster}${command.to ? ` --to ${command.to}` : ''}`;
    case 'watch':
      return `watch ${command.cluster}${command.channel ? ` ${command.channel}` : ''}`;
    case 'unwatch':
      return `unwatch ${command.cluster}`;
    default:
      return command.name;
  }
}
