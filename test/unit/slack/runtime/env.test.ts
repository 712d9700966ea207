import { describe, expect, it } from 'vitest';
import { slackSettingsFromEnv } from '../../../../src/slack/runtime/env.js';

describe('slackSettingsFromEnv', () => {
  it('chooses HTTP with a signing secret, PORT defaulting to 3000', () => {
    expect(slackSettingsFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-123' })).toEqual({
      mode: 'http',
      botToken: 'xoxb-1',
      signingSecret: 'secret-123',
      port: 3000,
    });
    expect(
      slackSettingsFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-123', PORT: '8080' }),
    ).toMatchObject({ port: 8080 });
  });

  it('chooses Socket Mode when an app token is set (no signing secret needed)', () => {
    expect(slackSettingsFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1-A1-2-abc' })).toEqual({
      mode: 'socket',
      botToken: 'xoxb-1',
      appToken: 'xapp-1-A1-2-abc',
    });
  });

  it(
    'takes WARREN_METRICS_PORT in Socket Mode as where /healthz and ' +
      '/metrics are served, and refuses one that is no port',
    () => {
      expect(
        slackSettingsFromEnv({
          SLACK_BOT_TOKEN: 'xoxb-1',
          SLACK_APP_TOKEN: 'xapp-1-A1-2-abc',
          WARREN_METRICS_PORT: '9464',
        }),
      ).toMatchObject({ mode: 'socket', metricsPort: 9464 });
      expect(() =>
        slackSettingsFromEnv({
          SLACK_BOT_TOKEN: 'xoxb-1',
          SLACK_APP_TOKEN: 'xapp-1-A1-2-abc',
          WARREN_METRICS_PORT: 'ninety',
        }),
      ).toThrow(/WARREN_METRICS_PORT/);
    },
  );

  it('takes SLACK_API_URL as the Web API base, with the slash the client needs', () => {
    expect(
      slackSettingsFromEnv({
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_APP_TOKEN: 'xapp-1',
        SLACK_API_URL: 'http://127.0.0.1:9999/api',
      }),
    ).toMatchObject({ apiUrl: 'http://127.0.0.1:9999/api/' });
    expect(
      slackSettingsFromEnv({
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_APP_TOKEN: 'xapp-1',
        SLACK_API_URL: 'https://slack.com/api/',
      }),
    ).toMatchObject({ apiUrl: 'https://slack.com/api/' });
  });

  it('names every missing or malformed variable, never its value', () => {
    const attempt = () =>
      slackSettingsFromEnv({ SLACK_BOT_TOKEN: 'xoxp-user-token-secret', PORT: 'eighty', SLACK_API_URL: 'ftp://x' });
    expect(attempt).toThrow(/SLACK_BOT_TOKEN: a bot token starting with xoxb-/);
    expect(attempt).toThrow(/PORT/);
    expect(attempt).toThrow(/SLACK_API_URL/);
    expect(attempt).not.toThrow(/xoxp-user-token-secret/);
  });

  it('refuses to start with neither receiver configured', () => {
    expect(() => slackSettingsFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: '' })).toThrow(
      expect.objectContaining({
        code: 'config.invalid',
        message: 'neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set',
      }),
    );
  });
});
