import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/**
 * Fields that may carry secrets are censored by configuration, so no call site has to remember.
 * The Erlang cookie never reaches a log by construction (it travels only on stdin); these paths
 * are the second line of defence.
 */
export const REDACTED_PATHS = [
  'cookie',
  '*.cookie',
  'passphrase',
  '*.passphrase',
  'token',
  '*.token',
  'password',
  '*.password',
  'stdin',
  '*.stdin',
  'headers.authorization',
  'req.headers.authorization',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
];

/** JSON logs on stderr (stdout stays for command output); level from LOG_LEVEL. */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'warren',
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (options.destination ?? process.stderr) as DestinationStream,
  );
}
