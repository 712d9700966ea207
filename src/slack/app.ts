import { App } from '@slack/bolt';
import type { webApi } from '@slack/bolt';
import type { Logger } from '../log/logger.js';
import { boltLoggerFrom } from './bolt-logger.js';
import type { SlackReceiverSettings } from './env.js';
import { SlackHttpReceiver } from './receiver.js';

export interface SlackAppOptions {
  settings: SlackReceiverSettings;
  logger: Logger;
  /** How the WebClient retries (429s included); Bolt's default spreads ten retries over ~30 minutes. */
  retryConfig?: webApi.RetryOptions;
}

/**
 * The Bolt app for either receiver. Over HTTP every request's signature is verified and ones older
 * than five minutes are refused (SlackHttpReceiver); Socket Mode needs no public URL.
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
    // Our receiver: Bolt's signature and replay checks and answers, with less work per request.
    receiver: new SlackHttpReceiver({ signingSecret: settings.signingSecret, logger: options.logger.child({ component: 'slack-receiver' }) }),
    logger,
    clientOptions,
    // No listener reads conversation state; without the store every request skips a middleware.
    convoStore: false,
  });
}
