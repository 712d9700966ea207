import { webApi } from '@slack/bolt';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createBotMetrics } from '../../../../src/observability/metrics.js';
import { createSlackApp, methodOf } from '../../../../src/slack/runtime/app.js';

describe('methodOf', () => {
  it('names the Web API method from the URL the client called, and nothing unbounded', () => {
    expect(methodOf('https://slack.com/api/chat.postMessage')).toBe('chat.postMessage');
    expect(methodOf('http://127.0.0.1:4000/api/chat.update?x=1')).toBe('chat.update');
    expect(methodOf('https://files.slack.com/upload/v1/ABC123')).toBe('unknown');
    expect(methodOf(undefined)).toBe('unknown');
  });
});

describe('createSlackApp', () => {
  it("counts the client's rate-limit retries by method", async () => {
    const metrics = createBotMetrics({ defaultMetrics: false });
    const app = createSlackApp({
      settings: { mode: 'http', botToken: 'xoxb-unit', signingSecret: 'unit-signing-secret', port: 0 },
      logger: pino({ level: 'silent' }),
      metrics,
    });
    // What @slack/web-api 7 emits on a 429 before it waits Retry-After and tries again.
    app.client.emit(webApi.WebClientEvent.RATE_LIMITED, 1, { url: 'https://slack.com/api/chat.update', body: {} });
    app.client.emit(webApi.WebClientEvent.RATE_LIMITED, 1, { url: 'https://slack.com/api/chat.update', body: {} });
    app.client.emit(webApi.WebClientEvent.RATE_LIMITED, 2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('warren_slack_api_retries_total{method="chat.update"} 2');
    expect(text).toContain('warren_slack_api_retries_total{method="unknown"} 1');
  });
});
