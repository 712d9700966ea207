import type { App } from '@slack/bolt';
import type { BotDeps } from '../../deps.js';
import { CREATE_CONFIRM_ACTION } from '../../messages/plan.js';
import { createConfirmAction } from './create-confirm.js';

export function registerActions(app: App, deps: BotDeps): void {
  app.action(CREATE_CONFIRM_ACTION, createConfirmAction(deps));
}
