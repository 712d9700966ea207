import { describe, expect, it } from 'vitest';
import { WarrenError } from '../../../src/errors.js';
import { describeRedis, redisSettingsFromEnv } from '../../../src/queue/redis.js';

function refusal(env: NodeJS.ProcessEnv): WarrenError {
  try {
    redisSettingsFromEnv(env);
  } catch (error) {
    if (error instanceof WarrenError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('redisSettingsFromEnv', () => {
  it('defaults to the local Redis, no replica wait', () => {
    expect(redisSettingsFromEnv({})).toEqual({
      mode: 'url',
      url: 'redis://127.0.0.1:6379',
      waitReplicas: 0,
      waitTimeoutMs: 1000,
    });
  });

  it('keeps REDIS_URL working, with the password from REDIS_PASSWORD', () => {
    expect(redisSettingsFromEnv({ REDIS_URL: 'rediss://redis.internal:6380/2', REDIS_PASSWORD: 'pw' })).toEqual({
      mode: 'url',
      url: 'rediss://redis.internal:6380/2',
      password: 'pw',
      waitReplicas: 0,
      waitTimeoutMs: 1000,
    });
  });

  it(
    'reads a Sentinel group: addresses (default port 26379, IPv6 in ' +
      'brackets), master name, both passwords, one replica to wait for',
    () => {
      const settings = redisSettingsFromEnv({
        REDIS_SENTINELS: 'sentinel-a:26380, 10.0.0.7 ,[fd00::3]:26381',
        REDIS_SENTINEL_MASTER: 'warren',
        REDIS_PASSWORD: 'redis-secret',
        REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      });
      expect(settings).toEqual({
        mode: 'sentinel',
        sentinels: [
          { host: 'sentinel-a', port: 26380 },
          { host: '10.0.0.7', port: 26379 },
          { host: 'fd00::3', port: 26381 },
        ],
        masterName: 'warren',
        password: 'redis-secret',
        sentinelPassword: 'sentinel-secret',
        waitReplicas: 1,
        waitTimeoutMs: 1000,
      });
      expect(describeRedis(settings)).toBe('sentinel warren via sentinel-a:26380,10.0.0.7:26379,fd00::3:26381');
    },
  );

  it('lets the operator set the replica wait, or turn it off', () => {
    const env = {
      REDIS_SENTINELS: 's1:26379',
      REDIS_SENTINEL_MASTER: 'm',
      REDIS_WAIT_REPLICAS: '0',
      REDIS_WAIT_TIMEOUT_MS: '250',
    };
    expect(redisSettingsFromEnv(env)).toMatchObject({ waitReplicas: 0, waitTimeoutMs: 250 });
  });

  it.each([
    [{ REDIS_SENTINELS: 's1:26379' }, 'REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS'],
    [{ REDIS_SENTINEL_MASTER: 'warren' }, 'REDIS_SENTINELS: required with REDIS_SENTINEL_MASTER'],
    [
      { REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_MASTER: 'warren', REDIS_URL: 'redis://r:6379' },
      'REDIS_URL: set together with REDIS_SENTINELS',
    ],
    [
      { REDIS_SENTINELS: 's1:26379,s2:notaport', REDIS_SENTINEL_MASTER: 'warren' },
      'REDIS_SENTINELS[1]: host:port of a Sentinel',
    ],
    [{ REDIS_SENTINELS: 's1:99999', REDIS_SENTINEL_MASTER: 'warren' }, 'REDIS_SENTINELS[0]: a port from 1 to 65535'],
    [{ REDIS_SENTINELS: 's1,,s2', REDIS_SENTINEL_MASTER: 'warren' }, 'REDIS_SENTINELS[1]: host:port of a Sentinel'],
    [
      { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER: 'my master' },
      'REDIS_SENTINEL_MASTER: the master name the Sentinels monitor',
    ],
    [{ REDIS_SENTINEL_PASSWORD: 'x' }, 'REDIS_SENTINEL_PASSWORD: set without REDIS_SENTINELS'],
    [
      { REDIS_URL: 'redis://:inline@r:6379', REDIS_PASSWORD: 'x' },
      'REDIS_PASSWORD: set while REDIS_URL carries a password too',
    ],
    [{ REDIS_URL: 'http://r:6379' }, 'REDIS_URL: a redis:// or rediss:// URL'],
    [{ REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER: 'm', REDIS_WAIT_REPLICAS: 'one' }, 'REDIS_WAIT_REPLICAS:'],
  ])('refuses %j with config.invalid naming the variable', (env, expected) => {
    const error = refusal(env);
    expect(error.code).toBe('config.invalid');
    expect(error.message).toContain(expected);
  });

  it('never repeats a password in its refusal', () => {
    const error = refusal({
      REDIS_SENTINELS: 's1:bad',
      REDIS_SENTINEL_MASTER: 'warren',
      REDIS_PASSWORD: 'hunter2-secret',
      REDIS_SENTINEL_PASSWORD: 'other-secret',
    });
    expect(`${error.message} ${error.hint ?? ''}`).not.toMatch(/hunter2-secret|other-secret/);
  });

  it('never shows a URL password where the connection is described', () => {
    expect(
      describeRedis({ mode: 'url', url: 'redis://user:inline-secret@r:6379/0', waitReplicas: 0, waitTimeoutMs: 1000 }),
    ).toBe('redis://r:6379/0');
  });
});
