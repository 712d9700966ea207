import { z } from 'zod';
import { formatConfigIssues } from '../../config/load.js';
import { WarrenError } from '../../errors.js';

/** The bot's Slack settings, read from the environment (the only secrets the bot needs). */
const SlackEnv = z.object({
  SLACK_BOT_TOKEN: z.string().regex(/^xoxb-\S+$/, 'a bot token starting with xoxb- (OAuth & Permissions page)'),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-\S+$/, 'an app-level token starting with xapp-, with connections:write (Basic Information page)')
    .optional(),
  SLACK_SIGNING_SECRET: z
    .string()
    .regex(/^\S{8,}$/, 'the signing secret (Basic Information page)')
    .optional(),
  SLACK_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  WARREN_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
});

/** How Slack reaches the bot: Socket Mode when an app token is set, else HTTP with a signing secret. */
export type SlackReceiverSettings =
  | {
      mode: 'socket';
      botToken: string;
      appToken: string;
      apiUrl?: string;
      /** Where `/healthz` and `/metrics` are served; none without it. */ metricsPort?: number;
    }
  | { mode: 'http'; botToken: string; signingSecret: string; port: number; apiUrl?: string };

/** Reads and checks the Slack variables; a missing or malformed one fails at start, naming it. */
export function slackSettingsFromEnv(env: NodeJS.ProcessEnv): SlackReceiverSettings {
  const parsed = SlackEnv.safeParse(emptyAsUnset(env));
  if (!parsed.success) {
    throw new WarrenError(
      'config.invalid',
      `Slack settings in the environment are invalid:\n  ${formatConfigIssues(parsed.error.issues).join('\n  ')}`,
      {
        hint:
          'Set SLACK_BOT_TOKEN and either SLACK_APP_TOKEN (Socket Mode) or ' +
          'SLACK_SIGNING_SECRET (HTTP); docs/slack.md lists them.',
      },
    );
  }
  const e = parsed.data;
  // WebClient appends the method name to the base URL as-is, so the base must end with a slash.
  const apiUrl =
    e.SLACK_API_URL === undefined
      ? {}
      : { apiUrl: e.SLACK_API_URL.endsWith('/') ? e.SLACK_API_URL : `${e.SLACK_API_URL}/` };
  if (e.SLACK_APP_TOKEN) {
    return {
      mode: 'socket',
      botToken: e.SLACK_BOT_TOKEN,
      appToken: e.SLACK_APP_TOKEN,
      ...apiUrl,
      ...(e.WARREN_METRICS_PORT === undefined ? {} : { metricsPort: e.WARREN_METRICS_PORT }),
    };
  }
  if (!e.SLACK_SIGNING_SECRET) {
    throw new WarrenError('config.invalid', 'neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set', {
      hint: 'For Socket Mode set SLACK_APP_TOKEN (xapp-…); for HTTP set SLACK_SIGNING_SECRET and PORT.',
    });
  }
  return { mode: 'http', botToken: e.SLACK_BOT_TOKEN, signingSecret: e.SLACK_SIGNING_SECRET, port: e.PORT, ...apiUrl };
}

const SLACK_KEYS = [
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_API_URL',
  'PORT',
  'WARREN_METRICS_PORT',
];

function emptyAsUnset(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(SLACK_KEYS.flatMap((k) => (env[k] === undefined || env[k] === '' ? [] : [[k, env[k]]])));
}
