import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ConnectionClosedError } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { WarrenError, isRedisConnectionError, messageOf, stackOf, toWarrenError } from '../../src/errors.js';
import { connectRedis } from '../../src/queue/redis.js';

/** A local port nothing listens on: a connection to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe('messageOf', () => {
  it("gives an Error's message, and any other thrown value as text", () => {
    expect(messageOf(new TypeError('x is not a function'))).toBe('x is not a function');
    expect(messageOf(new WarrenError('cluster.unknown', 'unknown cluster "a"'))).toBe('unknown cluster "a"');
    expect(messageOf('plain text')).toBe('plain text');
    expect(messageOf(42)).toBe('42');
    expect(messageOf(undefined)).toBe('undefined');
    expect(messageOf(null)).toBe('null');
    expect(messageOf({ code: 'E' })).toBe('[object Object]');
  });
});

describe('toWarrenError', () => {
  it('passes a WarrenError through, filling in the step it failed in', () => {
    const original = new WarrenError('ssh.connect_failed', 'cannot connect to lab2', { retryable: true, host: 'lab2' });
    const error = toWarrenError(original, { step: 'rabbit:join' });
    expect(error).toBe(original);
    expect(error).toMatchObject({ code: 'ssh.connect_failed', host: 'lab2', step: 'rabbit:join', retryable: true });
    expect(toWarrenError(new WarrenError('join.failed', 'x', { step: 'rabbit:a' }), { step: 'rabbit:b' }).step).toBe(
      'rabbit:a',
    );
  });

  it(
    'calls an unexpected error internal, never a code that blames the ' + 'request, and keeps its stack for the log',
    () => {
      const bug = new TypeError("Cannot read properties of undefined (reading 'filter')");
      const error = toWarrenError(bug, { step: 'rabbit:verify' });
      expect(error).toMatchObject({ code: 'internal', retryable: false, step: 'rabbit:verify', message: bug.message });
      expect(error.hint).toMatch(/bug in warren/);
      expect(error.cause).toBe(bug);
      expect(stackOf(error).stack).toBe(bug.stack);
      expect(stackOf(error).stack).toContain('TypeError');
    },
  );

  it('calls a thrown non-Error internal too, with a stack to find where it surfaced', () => {
    const error = toWarrenError('something odd');
    expect(error).toMatchObject({ code: 'internal', message: 'something odd', retryable: false });
    expect(stackOf(error).stack).toContain('WarrenError');
  });

  it('puts no stack in the log for an error that has a code of its own', () => {
    expect(stackOf(new WarrenError('gate.refused', 'refused'))).toEqual({});
    expect(stackOf(toWarrenError(new Error('read ECONNRESET')))).toEqual({});
  });

  it.each([
    'read ECONNRESET',
    'socket hang up',
    'connect ETIMEDOUT 10.0.0.5:22',
    'write EPIPE',
    'No response from server',
    'Not connected',
  ])('keeps a plain network error (%s) an SSH connection lost, retryable, as before', (message) => {
    expect(toWarrenError(new Error(message), { host: 'lab3' })).toMatchObject({
      code: 'ssh.connection_lost',
      retryable: true,
      host: 'lab3',
      message,
    });
  });

  it("calls ioredis's and BullMQ's connection errors redis.unreachable, retryable, with what to check", () => {
    for (const thrown of [
      new Error('Connection is closed.'),
      new ConnectionClosedError('Connection is closed.'),
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    ]) {
      const error = toWarrenError(thrown);
      expect(error).toMatchObject({ code: 'redis.unreachable', retryable: true });
      expect(error.message).toContain(thrown.message);
      expect(error.hint).toMatch(/REDIS_URL/);
    }
    expect(isRedisConnectionError(new Error('read ECONNRESET'))).toBe(false);
    expect(isRedisConnectionError('Connection is closed.')).toBe(false);
  });

  it('calls a real command refused for want of a Redis (MaxRetriesPerRequestError) redis.unreachable', async () => {
    const redis = new Redis({
      host: '127.0.0.1',
      port: await closedPort(),
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    redis.on('error', () => undefined);
    try {
      const thrown = await redis.ping().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(thrown).toMatchObject({ name: 'MaxRetriesPerRequestError' });
      expect(toWarrenError(thrown)).toMatchObject({ code: 'redis.unreachable', retryable: true });
    } finally {
      redis.disconnect();
    }
  });

  it(
    'calls the refusal a warren Redis connection emits redis.unreachable, ' +
      'while the same words from elsewhere stay SSH',
    async () => {
      const redis = connectRedis(`redis://127.0.0.1:${await closedPort()}`);
      try {
        const [emitted] = (await once(redis, 'error')) as [Error];
        expect(emitted.message).toMatch(/ECONNREFUSED/);
        // BullMQ rejects with this very object when the connection ends before it is ready.
        expect(toWarrenError(emitted)).toMatchObject({ code: 'redis.unreachable', retryable: true });
        expect(toWarrenError(new Error(emitted.message))).toMatchObject({ code: 'ssh.connection_lost' });
      } finally {
        redis.disconnect();
      }
    },
  );

  it('calls a command sent on a closed connection redis.unreachable, not internal', async () => {
    const redis = connectRedis(`redis://127.0.0.1:${await closedPort()}`);
    redis.on('error', () => undefined);
    redis.disconnect();
    const thrown = await redis.ping().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(toWarrenError(thrown)).toMatchObject({
      code: 'redis.unreachable',
      retryable: true,
      message: 'Redis did not answer: Connection is closed.',
    });
  });
});
