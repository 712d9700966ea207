/**
 * `warren bot` started while Redis cannot be reached says so at once (and again while it lasts),
 * keeps retrying, and says when Redis is back: Redis is behind a TCP relay of the test's own (an
 * ephemeral port), closed at first, then relaying to the machine's Redis.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/queue/redis.js';
import { SlackEmulator } from '../../tools/slack-emulator/emulator.js';
import { SIGNING_SECRET } from '../../tools/slack-emulator/harness.js';

const CLI = 'dist/src/cli/bin.js';

/** A relay to 127.0.0.1:6379 on `port` (0: any free port). */
function relay(port: number): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const upstream = createConnection({ host: '127.0.0.1', port: 6379 });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function closed(server: Server): Promise<void> {
  const done = new Promise<void>((resolve) => server.close(() => resolve()));
  server.emit('close');
  return done;
}

async function until(check: () => boolean, what: string, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms:\n${output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('warren bot and an unreachable Redis', () => {
  it(
    'logs redis.unreachable at start and again while it lasts, keeps ' +
      'retrying, and logs when Redis is back and the bot starts',
    async () => {
      if (!existsSync(CLI)) throw new Error('build first: npm run -s build');
      // Take a free port, then close it: nothing listens there until the relay opens again.
      const probe = await relay(0);
      const port = (probe.address() as AddressInfo).port;
      await closed(probe);
      const emulator = await SlackEmulator.start();
      const child = spawn(
        'node',
        [CLI, '--config', 'config/warren.example.yaml', '--prefix', `redis-down-${port}`, 'bot'],
        {
          env: {
            ...process.env,
            REDIS_URL: `redis://127.0.0.1:${port}`,
            SLACK_BOT_TOKEN: emulator.botToken,
            SLACK_SIGNING_SECRET: SIGNING_SECRET,
            SLACK_API_URL: emulator.apiUrl,
            PORT: '0',
            LOG_LEVEL: 'info',
            WARREN_REDIS_DOWN_LOG_EVERY_MS: '1000',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      let server: Server | undefined;
      try {
        const lines = () =>
          output
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as Record<string, unknown>);
        const started = Date.now();
        await until(
          () => lines().some((l) => l.code === 'redis.unreachable'),
          'redis.unreachable',
          5000,
          () => output,
        );
        expect(Date.now() - started).toBeLessThan(5000);
        const first = lines().find((l) => l.code === 'redis.unreachable')!;
        expect(first.level).toBe(50);
        expect(String(first.msg)).toMatch(/retrying/);
        expect(first.target).toBe(`127.0.0.1:${port}`);
        // Still down: said again (here every second), and nothing else pretends the bot started.
        await until(
          () => lines().filter((l) => l.code === 'redis.unreachable').length >= 3,
          'repeated redis.unreachable',
          8000,
          () => output,
        );
        expect(lines().some((l) => l.msg === 'slack bot started')).toBe(false);

        server = await relay(port);
        await until(
          () => lines().some((l) => l.code === 'redis.reconnected'),
          'redis.reconnected',
          15_000,
          () => output,
        );
        await until(
          () => lines().some((l) => l.msg === 'slack bot started'),
          'slack bot started',
          15_000,
          () => output,
        );
        expect(output).not.toContain('Unhandled error event');
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        if (server) await closed(server);
        await emulator.close();
        const redis = connectRedis();
        const keys = await redis.keys(`redis-down-${port}:*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      }
    },
    60_000,
  );
});
