import { App } from '@slack/bolt';
import type { webApi } from '@slack/bolt';
import type { Logger } from '../log/logger.js';
import { boltLoggerFrom } from './bolt-logger.js';
import type { SlackReceiverSettings } from './env.js';

export interface SlackAppOptions {
  settings: SlackReceiverSettings;
  logger: Logger;
  /** How the WebClient retries (429s included); Bolt's default spreads ten retries over ~30 minutes. */
  retryConfig?: webApi.RetryOptions;
}

/**
 * The Bolt app for either receiver. Bolt verifies every HTTP request's signature and refuses
 * ones older than five minutes; Socket Mode needs no public URL.
 */
export function createSlackApp(options: SlackAppOptions): App {
  const { settings } = options;
  const clientOptions: webApi.WebClientOptions = {
    ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {}),
    ...(options.retryConfig ? { retryConfig: options.retryConfig } : {}),
    // On a 429 the client waits Retry-After and tries again rather than throwing; progress is not lost.
    rejectRateLimitedCalls: false,
  };
  const logger = boltLoggerFrom(options.logger);
  if (settings.mode === 'socket') {
    return new App({ token: settings.botToken, appToken: settings.appToken, socketMode: true, logger, clientOptions, convoStore: false });
  }
  return new App({
    token: settings.botToken,
    signingSecret: settings.signingSecret,
    logger,
    clientOptions,
    // No listener reads conversation state; without the store every request skips a middleware.
    convoStore: false,
    // Respond to Slack as soon as a listener acks; the work after the ack runs on its own.
    processBeforeResponse: false,
    customRoutes: [
      {
        path: '/healthz',
        method: ['GET'],
        handler: (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('ok');
        },
      },
    ],
  });
}
