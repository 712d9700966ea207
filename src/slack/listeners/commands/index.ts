import type { App } from '@slack/bolt';
import type { BotDeps } from '../../deps.js';
import { rabbitCommand } from './rabbit.js';

/** The slash command the manifest declares. */
export const SLASH_COMMAND = '/rabbit';

export function registerCommands(app: App, deps: BotDeps): void {
  app.command(SLASH_COMMAND, rabbitCommand(deps));
}
