import type { BotDeps } from '../../deps.js';
import { approvalClick } from './approval-click.js';

/** Deny on an approval card: closes the request; nothing runs. */
export function denyAction(deps: BotDeps) {
  return approvalClick(deps, 'denied');
}
