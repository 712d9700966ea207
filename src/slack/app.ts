import { App, webApi } from '@slack/bolt';
import type { Logger } from '../log/logger.js';
import type { BotMetrics } from '../observability/metrics.js';
import type { HealthReport } from '../observability/server.js';
import { boltLoggerFrom } from './bolt-logger.js';
import type { SlackReceiverSettings } from './env.js';
import { SlackHttpReceiver } from './receiver.js';

export interface SlackAppOptions {
  settings: SlackReceiverSettings;
  logger: Logger;
  /** How the WebClient retries (429s included); Bolt's default spreads ten retries over ~30 minutes. */
  retryConfig?: webApi.RetryOptions;
  /** Counts the client's rate-limit retries; over HTTP, also served on the receiver's `GET /metrics`. */
  metrics?: BotMetrics;
  /** Over HTTP, what the receiver's `GET /healthz` reports. */
  health?: () => Promise<HealthReport>;
  /** Over HTTP, remembers deliveries so a replayed or retried request is acted on once (SlackStore.firstDelivery). */
  firstDelivery?: (key: string, ttlSeconds: number) => Promise<boolean>;
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
  const app =
    settings.mode === 'socket'
      ? new App({ token: settings.botToken, appToken: settings.appToken, socketMode: true, logger, clientOptions, convoStore: false })
      : new App({
          token: settings.botToken,
          // Our receiver: Bolt's signature and replay checks and answers, with less work per request.
          receiver: new SlackHttpReceiver({
            signingSecret: settings.signingSecret,
            logger: options.logger.child({ component: 'slack-receiver' }),
            ...(options.health ? { health: options.health } : {}),
            ...(options.metrics ? { metrics: options.metrics.registry } : {}),
            ...(options.firstDelivery ? { firstDelivery: options.firstDelivery } : {}),
          }),
          logger,
          clientOptions,
          // No listener reads conversation state; without the store every request skips a middleware.
          convoStore: false,
        });
  if (options.metrics) countRateLimits(app.client, options.metrics);
  return app;
}

/**
 * Counts each 429 the client waits out. Only `app.client` is hooked: every listener and the
 * reporter call Slack through it (BotDeps.client), never through the per-request `client` argument.
 */
function countRateLimits(client: webApi.WebClient, metrics: BotMetrics): void {
  // @slack/web-api 7 emits (retryAfterSeconds, { url, body }); older versions only the seconds.
  client.on(webApi.WebClientEvent.RATE_LIMITED, (_retryAfter: number, request?: { url?: unknown }) => {
    metrics.slackApiRetries.inc({ method: methodOf(request?.url) });
  });
}

/** `https://slack.com/api/chat.update` → `chat.update`; anything else → `unknown`. */
export function methodOf(url: unknown): string {
  if (typeof url !== 'string') return 'unknown';
  const method = url.slice(url.lastIndexOf('/') + 1).split('?')[0] ?? '';
  return /^[a-zA-Z]+(\.[a-zA-Z]+)+$/.test(method) ? method : 'unknown';
}
