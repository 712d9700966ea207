import { describe, expect, it } from 'vitest';
import { botProcessesFromEnv } from '../../../src/slack/env.js';

describe('botProcessesFromEnv', () => {
  it('is 1 unless WARREN_BOT_PROCESSES says otherwise', () => {
    expect(botProcessesFromEnv({})).toBe(1);
    expect(botProcessesFromEnv({ WARREN_BOT_PROCESSES: '' })).toBe(1);
    expect(botProcessesFromEnv({ WARREN_BOT_PROCESSES: '3', SLACK_SIGNING_SECRET: 'secret-123' })).toBe(3);
  });

  it('refuses what is not a process count, naming the variable', () => {
    for (const value of ['0', '-1', '1.5', 'two', '65']) {
      expect(() => botProcessesFromEnv({ WARREN_BOT_PROCESSES: value })).toThrow(expect.objectContaining({ code: 'config.invalid', message: expect.stringMatching(/WARREN_BOT_PROCESSES/) as unknown }));
    }
  });

  it('refuses several processes in Socket Mode (one WebSocket), and allows one', () => {
    expect(() => botProcessesFromEnv({ WARREN_BOT_PROCESSES: '2', SLACK_APP_TOKEN: 'xapp-1-A1-2-abc' })).toThrow(/Socket Mode .* runs in one process/);
    expect(botProcessesFromEnv({ WARREN_BOT_PROCESSES: '1', SLACK_APP_TOKEN: 'xapp-1-A1-2-abc' })).toBe(1);
  });
});
