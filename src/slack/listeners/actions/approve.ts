import type { BotDeps } from '../../deps.js';
import { approvalClick } from './approval-click.js';

/** Approve on an approval card: the one click of an approver (not the requester) that runs the operation. */
export function approveAction(deps: BotDeps) {
  return approvalClick(deps, 'approved');
}
