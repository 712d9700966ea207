import { z } from 'zod';
import { formatConfigIssues } from '../config/load.js';
import { WarrenError } from '../errors.js';

/** The bot's Slack settings, read from the environment (the only secrets the bot needs). */
const SlackEnv = z.object({
  SLACK_BOT_TOKEN: z.string().regex(/^xoxb-\S+$/, 'a bot token starting with xoxb- (OAuth & Permissions page)'),
  SLACK_APP_TOKEN: z.string().regex(/^xapp-\S+$/, 'an app-level token starting with xapp-, with connections:write (Basic Information page)').optional(),
  SLACK_SIGNING_SECRET: z.string().regex(/^\S{8,}$/, 'the signing secret (Basic Information page)').optional(),
  SLACK_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
});

/** How Slack reaches the bot: Socket Mode when an app token is set, else HTTP with a signing secret. */
export type SlackReceiverSettings =
  | { mode: 'socket'; botToken: string; appToken: string; apiUrl?: string }
  | { mode: 'http'; botToken: string; signingSecret: string; port: number; apiUrl?: string };

/** Reads and checks the Slack variables; a missing or malformed one fails at start, naming it. */
export function slackSettingsFromEnv(env: NodeJS.ProcessEnv): SlackReceiverSettings {
  const parsed = SlackEnv.safeParse(emptyAsUnset(env));
  if (!parsed.success) {
    throw new WarrenError('config.invalid', `Slack settings in the environment are invalid:\n  ${formatConfigIssues(parsed.error.issues).join('\n  ')}`, {
      hint: 'Set SLACK_BOT_TOKEN and either SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP); docs/slack.md lists them.',
    });
  }
  const e = parsed.data;
  // WebClient appends the method name to the base URL as-is, so the base must end with a slash.
  const apiUrl = e.SLACK_API_URL === undefined ? {} : { apiUrl: e.SLACK_API_URL.endsWith('/') ? e.SLACK_API_URL : `${e.SLACK_API_URL}/` };
  if (e.SLACK_APP_TOKEN) return { mode: 'socket', botToken: e.SLACK_BOT_TOKEN, appToken: e.SLACK_APP_TOKEN, ...apiUrl };
  if (!e.SLACK_SIGNING_SECRET) {
    throw new WarrenError('config.invalid', 'neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set', {
      hint: 'For Socket Mode set SLACK_APP_TOKEN (xapp-…); for HTTP set SLACK_SIGNING_SECRET and PORT.',
    });
  }
  return { mode: 'http', botToken: e.SLACK_BOT_TOKEN, signingSecret: e.SLACK_SIGNING_SECRET, port: e.PORT, ...apiUrl };
}

/** How many bot processes share the HTTP port (`WARREN_BOT_PROCESSES`); more than the cores only adds memory. */
const BotProcessesEnv = z.object({
  WARREN_BOT_PROCESSES: z.coerce.number().int('a whole number of processes').min(1, 'at least 1').max(64, 'at most 64').default(1),
  SLACK_APP_TOKEN: z.string().optional(),
});

/**
 * Reads WARREN_BOT_PROCESSES (default 1). Socket Mode is one WebSocket per app connection held by
 * one process, so more than one process is refused there rather than left to surprise anyone.
 */
export function botProcessesFromEnv(env: NodeJS.ProcessEnv): number {
  const parsed = BotProcessesEnv.safeParse(emptyAsUnset(env, ['WARREN_BOT_PROCESSES', 'SLACK_APP_TOKEN']));
  if (!parsed.success) {
    throw new WarrenError('config.invalid', `WARREN_BOT_PROCESSES is invalid:\n  ${formatConfigIssues(parsed.error.issues).join('\n  ')}`, {
      hint: 'Set WARREN_BOT_PROCESSES to the number of bot processes sharing the HTTP port (1 to 64; about one per free core), or leave it unset for 1.',
    });
  }
  const processes = parsed.data.WARREN_BOT_PROCESSES;
  if (processes > 1 && parsed.data.SLACK_APP_TOKEN !== undefined) {
    throw new WarrenError('config.invalid', `WARREN_BOT_PROCESSES=${processes} needs the HTTP receiver; Socket Mode (SLACK_APP_TOKEN is set) runs in one process`, {
      hint: 'Unset WARREN_BOT_PROCESSES (or set it to 1) for Socket Mode, or switch to HTTP (unset SLACK_APP_TOKEN, set SLACK_SIGNING_SECRET) to run several bot processes on one port.',
    });
  }
  return processes;
}

const SLACK_KEYS = ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_API_URL', 'PORT'];

function emptyAsUnset(env: NodeJS.ProcessEnv, keys: string[] = SLACK_KEYS): Record<string, string> {
  return Object.fromEntries(keys.flatMap((k) => (env[k] === undefined || env[k] === '' ? [] : [[k, env[k]]])));
}
