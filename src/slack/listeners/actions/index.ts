import type { App } from '@slack/bolt';
import type { BotDeps } from '../../deps.js';
import { APPROVE_ACTION, DENY_ACTION } from '../../messages/approval-card.js';
import { CREATE_CONFIRM_ACTION } from '../../messages/plan.js';
import { approveAction } from './approve.js';
import { createConfirmAction } from './create-confirm.js';
import { denyAction } from './deny.js';

export function registerActions(app: App, deps: BotDeps): void {
  app.action(CREATE_CONFIRM_ACTION, createConfirmAction(deps));
  app.action(APPROVE_ACTION, approveAction(deps));
  app.action(DENY_ACTION, denyAction(deps));
}
