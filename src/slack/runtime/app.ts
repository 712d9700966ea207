import { App, webApi } from '@slack/bolt';
import type { Logger } from '../../log/logger.js';
import type { BotMetrics } from '../../observability/metrics.js';
import type { HealthReport } from '../../observability/server.js';
import { boltLoggerFrom } from './bolt-logger.js';
import type { SlackReceiverSettings } from './env.js';
import { createSlackHttpReceiver } from './http-receiver.js';

export interface SlackAppOptions {
  settings: SlackReceiverSettings;
  logger: Logger;
  /** How the WebClient retries (429s included); Bolt's default spreads ten retries over ~30 minutes. */
  retryConfig?: webApi.RetryOptions;
  /** Counts the client's rate-limit retries; also served on the receiver's `GET /metrics`. */
  metrics?: BotMetrics;
  /** What the receiver's `GET /healthz` reports. */
  health?: () => Promise<HealthReport>;
  /** Over HTTP, remembers deliveries so a replayed or retried request is acted on once (SlackStore.firstDelivery). */
  firstDelivery?: (key: string, ttlSeconds: number) => Promise<boolean>;
}

/**
 * The Bolt app on Bolt's own receivers. Over HTTP (createSlackHttpReceiver) every request's signature
 * is verified on its bytes, ones more than five minutes off are refused, a delivery is acted on once,
 * and `/healthz` and `/metrics` are served beside Slack's endpoint. Socket Mode needs no public URL;
 * there startBot serves the two routes on a port of their own when the settings name one
 * (WARREN_METRICS_PORT).
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
  const receiverLogger = options.logger.child({ component: 'slack-receiver' });
  const routes = {
    logger: receiverLogger,
    ...(options.health ? { health: options.health } : {}),
    ...(options.metrics ? { metrics: options.metrics.registry } : {}),
  };
  const common = { token: settings.botToken, logger, clientOptions, convoStore: false as const };
  // convoStore: no listener reads conversation state; without the store every request skips a middleware.
  const app =
    settings.mode === 'socket'
      ? // Bolt builds its SocketModeReceiver (its WebSocket client uses clientOptions, so SLACK_API_URL too).
        // /healthz and /metrics are not given to it as custom routes: it would listen on their port with no
        // error handler, so a port in use would crash the process (startBot serves them instead).
        new App({ ...common, socketMode: true, appToken: settings.appToken })
      : new App({
          ...common,
          receiver: createSlackHttpReceiver({
            signingSecret: settings.signingSecret,
            ...routes,
            ...(options.firstDelivery ? { firstDelivery: options.firstDelivery } : {}),
          }),
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
