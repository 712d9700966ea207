import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SLASH_COMMAND } from '../../../src/slack/listeners/commands/index.js';

const manifest = parse(readFileSync(new URL('../../../slack-manifest.yaml', import.meta.url), 'utf8')) as {
  features: { slash_commands: { command: string; should_escape: boolean }[]; bot_user: { display_name: string } };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean }; socket_mode_enabled: boolean };
};

describe('slack-manifest.yaml', () => {
  it('declares the slash command the bot listens to, unescaped as the parser expects', () => {
    expect(manifest.features.slash_commands).toEqual([
      expect.objectContaining({ command: SLASH_COMMAND, should_escape: false }),
    ]);
  });

  it('asks for exactly the scopes the bot uses, with interactivity and Socket Mode on', () => {
    expect(manifest.oauth_config.scopes.bot.sort()).toEqual(['chat:write', 'commands']);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.socket_mode_enabled).toBe(true);
  });
});
