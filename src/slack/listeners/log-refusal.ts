import type { Logger } from '../../log/logger.js';

/** Every refusal is logged with who, where and what, so an admin can see who was turned away and why. */
export function logRefusal(
  logger: Logger,
  fields: { user: string; channel: string; command: string; reason: string },
): void {
  // The text is the user's; keep the log line bounded whatever they pasted.
  logger.warn({ ...fields, command: fields.command.slice(0, 200) }, 'slack request refused');
}
